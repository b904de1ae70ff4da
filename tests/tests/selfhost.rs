//! Self-hosted single-node mode, against the built `krv-server` binary run as
//! a child process: HTTPS, graceful shutdown under load, backup and restore.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use krv_tests::bins::binary;
use krv_tests::stack::free_port;
use krv_tests::{PASSWORD, REGISTER_SECRET, RedisServer};
use serde_json::json;

const KEY: &str = "selfhost-test-signing-key-0123456789abcdef";

/// A `krv-server` child process, killed on drop; its stderr goes to a file
/// shown when a test fails.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts `krv-server` on a free port with the test settings plus `extra`.
    fn spawn(dir: &Path, redis: &RedisServer, extra: &[(&str, &str)]) -> Self {
        let port = free_port().expect("free port");
        let log = dir.join(format!("server-{port}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(binary("krv-server"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .env("SESSION_SIGNING_KEY", KEY)
            .env("REDIS_URL", redis.url())
            .env("CREATE_TABLES", "true")
            .env("COOKIE_SECURE", "false")
            .env("ARGON2_MEMORY_KIB", "64")
            .env("ARGON2_ITERATIONS", "1")
            .env("ADMIN_REGISTER_SECRET", REGISTER_SECRET)
            .env("DYNAMODB_DATA_PATH", ":memory:")
            .env("WEB_DIR", dir.join("no-web-panel"))
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("krv-server starts");
        Self { child, port, log }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/api/health/ready` until it answers 200; fails if the process exits.
    async fn wait_ready(&mut self, client: &reqwest::Client, scheme: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = self.url(scheme, "/api/health/ready");
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("krv-server exited with {status} before it was ready:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "krv-server was not ready within 60 s:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM, as systemd does on `systemctl stop`.
    fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, for at most `limit`.
    async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "krv-server did not exit within {limit:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `krv-server` with `args` and the store settings `env`; returns the exit
/// code and stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(binary("krv-server"));
    command.env_clear().args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("krv-server runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");

    let redis = RedisServer::start().await.expect("redis");
    let (cert_path, key_path) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let mut server = Server::spawn(dir.path(), &redis, &[("TLS_CERT_FILE", cert_path), ("TLS_KEY_FILE", key_path)]);
    let trusted = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("certificate")])
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    server.wait_ready(&trusted, "https").await;

    let response = trusted.get(server.url("https", "/api/health/ready")).send().await.expect("https request");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    // Handlers still see the peer address behind TLS: a login is throttled per
    // client address and answers normally.
    let login = trusted
        .post(server.url("https", "/api/auth/login"))
        .json(&json!({"username": "nobody", "password": "wrong-password"}))
        .send()
        .await
        .expect("login over https");
    assert_eq!(login.status(), reqwest::StatusCode::UNAUTHORIZED);

    let plain = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    match plain.get(server.url("http", "/api/health/ready")).send().await {
        Err(_) => {}
        Ok(response) => assert!(!response.status().is_success(), "plain http must not be served: {response:?}"),
    }

    server.terminate();
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

#[test]
fn tls_needs_both_files_and_readable_pem() {
    let (code, stderr) = run(&[], &[("SESSION_SIGNING_KEY", KEY), ("TLS_CERT_FILE", "/etc/kohakuriver/cert.pem")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("invalid configuration: TLS_KEY_FILE:"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let not_pem = dir.path().join("cert.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").expect("write");
    let not_pem = not_pem.to_str().expect("utf-8");
    let (code, stderr) = run(
        &[],
        &[
            ("SESSION_SIGNING_KEY", KEY),
            ("DYNAMODB_DATA_PATH", ":memory:"),
            ("TLS_CERT_FILE", not_pem),
            ("TLS_KEY_FILE", not_pem),
        ],
    );
    assert_eq!(code, Some(1), "an unusable TLS file stops the server with exit status 1: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TLS_CERT_FILE"), "{stderr}");
}

/// What one request of the load saw.
struct Outcome {
    what: &'static str,
    started_before_signal: bool,
    finished_after_signal: bool,
    /// The status, or the error of a request that got no full response.
    result: Result<u16, String>,
    /// The request failed to connect (the listener was already closed).
    never_connected: bool,
}

/// One request; the body is read in full, so a response cut short is an error.
async fn attempt(request: reqwest::RequestBuilder) -> (Result<u16, String>, bool) {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(_) => (Ok(status), false),
                Err(e) => (Err(format!("body cut short: {e:?}")), false),
            }
        }
        Err(e) => (Err(format!("{e:?}")), e.is_connect()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = RedisServer::start().await.expect("redis");
    // Real password hashing makes logins slow enough to be in flight at the signal.
    let mut server = Server::spawn(dir.path(), &redis, &[("ARGON2_MEMORY_KIB", "8192"), ("ARGON2_ITERATIONS", "2")]);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    server.wait_ready(&client, "http").await;

    let signalled = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..8usize {
        let (client, signalled, completed) = (client.clone(), Arc::clone(&signalled), Arc::clone(&completed));
        let ready = server.url("http", "/api/health/ready");
        let login = server.url("http", "/api/auth/login");
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in 0..150usize {
                let started_before_signal = !signalled.load(Ordering::SeqCst);
                let (what, request) = if (worker + i) % 3 == 0 {
                    let body = json!({"username": format!("nobody-{worker}-{i}"), "password": "wrong-password"});
                    ("login", client.post(&login).json(&body))
                } else {
                    ("ready", client.get(&ready))
                };
                let (result, never_connected) = attempt(request).await;
                let finished_after_signal = signalled.load(Ordering::SeqCst);
                let failed = result.is_err();
                outcomes.push(Outcome { what, started_before_signal, finished_after_signal, result, never_connected });
                completed.fetch_add(1, Ordering::SeqCst);
                // Once the server has gone, further requests only fail to connect.
                if failed && finished_after_signal {
                    break;
                }
            }
            outcomes
        }));
    }

    // Signal in the middle of the stream, once it is flowing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while completed.load(Ordering::SeqCst) < 60 {
        assert!(Instant::now() < deadline, "the load did not get going:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    signalled.store(true, Ordering::SeqCst);
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "exit after SIGTERM:\n{}", server.log());

    let mut outcomes = Vec::new();
    for worker in workers {
        let done = tokio::time::timeout(Duration::from_secs(60), worker).await.expect("workers finish");
        outcomes.extend(done.expect("worker task"));
    }
    let mut drained = 0;
    for o in &outcomes {
        let expected: &[u16] = if o.what == "login" { &[401, 429] } else { &[200] };
        match &o.result {
            Ok(status) => assert!(expected.contains(status), "{} answered {status}", o.what),
            // A request sent before the signal is answered in full, unless it
            // found no listener; one sent after it may meet a closing server.
            Err(e) => assert!(
                !o.started_before_signal || (o.never_connected && o.finished_after_signal),
                "{} (started {} the signal) failed: {e}\n{}",
                o.what,
                if o.started_before_signal { "before" } else { "after" },
                server.log()
            ),
        }
        if o.started_before_signal && o.finished_after_signal && o.result.is_ok() {
            drained += 1;
        }
    }
    let before = outcomes.iter().filter(|o| o.started_before_signal).count();
    eprintln!("{} requests, {before} sent before the signal, {drained} of them answered after it", outcomes.len());
    assert!(drained > 0, "no request was in flight at the signal; {} requests in all", outcomes.len());
}

/// The session token a registration or login response's cookie sets.
fn session_token(response: &reqwest::Response) -> String {
    krv_tests::load::session_cookie(response.headers()).expect("a session cookie")
}

/// How a request to the server authenticates.
#[derive(Clone, Copy)]
enum Credential<'a> {
    /// The session token in the `kohakuriver_session` cookie, as a browser sends it.
    Cookie(&'a str),
    /// A session or API token in `Authorization: Bearer`, as the CLI sends it.
    Bearer(&'a str),
}

/// `GET /api/auth/me` with `credential`: the status and the JSON body.
async fn me(client: &reqwest::Client, server: &Server, credential: Credential<'_>) -> (u16, serde_json::Value) {
    let request = client.get(server.url("http", "/api/auth/me"));
    let request = match credential {
        Credential::Cookie(token) => request.header(reqwest::header::COOKIE, format!("kohakuriver_session={token}")),
        Credential::Bearer(token) => request.bearer_auth(token),
    };
    let response = request.send().await.expect("GET /api/auth/me");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Registers the first admin `name`; returns its session token.
async fn register_admin(client: &reqwest::Client, server: &Server, name: &str) -> String {
    let registered = client
        .post(server.url("http", "/api/auth/register"))
        .json(&json!({"username": name, "password": PASSWORD, "register_secret": REGISTER_SECRET}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), reqwest::StatusCode::CREATED);
    session_token(&registered)
}

/// `admin` creates the user `name` (role `user`): the status.
async fn create_user(client: &reqwest::Client, server: &Server, admin: &str, name: &str) -> u16 {
    client
        .post(server.url("http", "/api/auth/register"))
        .bearer_auth(admin)
        .json(&json!({"username": name, "password": PASSWORD, "role": "user"}))
        .send()
        .await
        .expect("create user")
        .status()
        .as_u16()
}

/// The usernames `GET /api/auth/users` lists for `admin`.
async fn usernames(client: &reqwest::Client, server: &Server, admin: &str) -> Vec<String> {
    let users = client.get(server.url("http", "/api/auth/users")).bearer_auth(admin).send().await.expect("list users");
    assert_eq!(users.status(), reqwest::StatusCode::OK);
    let users: serde_json::Value = users.json().await.expect("JSON");
    users.as_array().expect("an array").iter().filter_map(|u| u["username"].as_str().map(str::to_owned)).collect()
}

/// `systemctl restart` with the store on disk and Redis left running: the
/// session cookie and the API token issued before the restart authenticate
/// the new process, with no new login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_tokens_issued_before_a_restart_keep_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").join("dynamodb.sqlite");
    let data_path = data.to_str().expect("utf-8").to_owned();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let redis = RedisServer::start().await.expect("redis");

    let mut server = Server::spawn(dir.path(), &redis, &[("DYNAMODB_DATA_PATH", &data_path)]);
    server.wait_ready(&client, "http").await;
    let session = register_admin(&client, &server, "root").await;
    let created = client
        .post(server.url("http", "/api/auth/tokens"))
        .bearer_auth(&session)
        .json(&json!({"name": "before-restart"}))
        .send()
        .await
        .expect("create token");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let created: serde_json::Value = created.json().await.expect("JSON");
    let token = created["token"].as_str().expect("the token").to_owned();
    assert_eq!(me(&client, &server, Credential::Cookie(&session)).await.0, 200);

    server.terminate();
    assert_eq!(server.wait_exit(Duration::from_secs(30)).await.code(), Some(0), "{}", server.log());
    drop(server);

    let mut server = Server::spawn(dir.path(), &redis, &[("DYNAMODB_DATA_PATH", &data_path)]);
    server.wait_ready(&client, "http").await;
    for (what, credential) in [
        ("the old session cookie", Credential::Cookie(&session)),
        ("the old session as a bearer token", Credential::Bearer(&session)),
        ("the old API token", Credential::Bearer(&token)),
    ] {
        let (status, body) = me(&client, &server, credential).await;
        assert_eq!(status, 200, "{what} after the restart: {body}\n{}", server.log());
        assert_eq!(body["username"], "root", "{what}: {body}");
    }
    // The old session still carries its rights: it writes through the new process.
    assert_eq!(create_user(&client, &server, &session, "after-restart").await, 201, "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_running_then_restore_into_a_wiped_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").join("dynamodb.sqlite");
    let data_path = data.to_str().expect("utf-8").to_owned();
    let backup = dir.path().join("backup.sqlite");
    let backup_path = backup.to_str().expect("utf-8").to_owned();
    let store_env = [("DYNAMODB_DATA_PATH", data_path.as_str()), ("SESSION_SIGNING_KEY", KEY)];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");

    let redis = RedisServer::start().await.expect("redis");
    let mut server = Server::spawn(dir.path(), &redis, &[("DYNAMODB_DATA_PATH", &data_path)]);
    server.wait_ready(&client, "http").await;
    let admin = register_admin(&client, &server, "root").await;
    let created = client
        .post(server.url("http", "/api/auth/register"))
        .bearer_auth(&admin)
        .json(&json!({"username": "alice", "password": PASSWORD, "role": "operator"}))
        .send()
        .await
        .expect("create user");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);

    let (code, stderr) = run(&["backup", &backup_path], &store_env);
    assert_eq!(code, Some(0), "backup while running: {stderr}");
    assert!(backup.is_file());
    let (code, stderr) = run(&["restore", &backup_path], &store_env);
    assert_eq!(code, Some(1), "restore while running must be refused: {stderr}");
    assert!(stderr.contains("stop the service first"), "{stderr}");

    server.terminate();
    assert_eq!(server.wait_exit(Duration::from_secs(30)).await.code(), Some(0), "{}", server.log());
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{data_path}{suffix}"));
    }
    assert!(!data.exists());

    let (code, stderr) = run(&["restore", &backup_path], &store_env);
    assert_eq!(code, Some(0), "restore: {stderr}");

    let mut server = Server::spawn(dir.path(), &redis, &[("DYNAMODB_DATA_PATH", &data_path)]);
    server.wait_ready(&client, "http").await;
    // Redis kept running: the session from before the restore still works,
    // as its user is in the backup.
    let (status, body) = me(&client, &server, Credential::Cookie(&admin)).await;
    assert_eq!(status, 200, "the old session after the restore: {body}\n{}", server.log());
    let names = usernames(&client, &server, &admin).await;
    assert!(
        names.iter().any(|n| n == "alice") && names.iter().any(|n| n == "root"),
        "users after the restore: {names:?}"
    );
    let login = client
        .post(server.url("http", "/api/auth/login"))
        .json(&json!({"username": "root", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), reqwest::StatusCode::OK, "the admin's password survives the restore");
}

/// SQLite's page size in the embedded store (its default).
const PAGE: usize = 4096;

/// `file` with its page `index` (from 0) overwritten with junk.
fn damaged_page(file: &[u8], index: usize) -> Vec<u8> {
    let mut damaged = file.to_vec();
    damaged[index * PAGE..(index + 1) * PAGE].fill(0xA5);
    damaged
}

/// A restore from a file that is not a usable backup fails with exit 1 and
/// one line, and the store keeps the data it had (written after the backup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").join("dynamodb.sqlite");
    let data_path = data.to_str().expect("utf-8").to_owned();
    let backup = dir.path().join("backup.sqlite");
    let backup_path = backup.to_str().expect("utf-8").to_owned();
    let store_env = [("DYNAMODB_DATA_PATH", data_path.as_str()), ("SESSION_SIGNING_KEY", KEY)];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let redis = RedisServer::start().await.expect("redis");

    let mut server = Server::spawn(dir.path(), &redis, &[("DYNAMODB_DATA_PATH", &data_path)]);
    server.wait_ready(&client, "http").await;
    let admin = register_admin(&client, &server, "root").await;
    assert_eq!(create_user(&client, &server, &admin, "alice").await, 201);
    let (code, stderr) = run(&["backup", &backup_path], &store_env);
    assert_eq!(code, Some(0), "backup: {stderr}");
    // Changed after the backup: what a failed restore must keep.
    assert_eq!(create_user(&client, &server, &admin, "bob").await, 201);
    server.terminate();
    assert_eq!(server.wait_exit(Duration::from_secs(30)).await.code(), Some(0), "{}", server.log());
    drop(server);

    let good = std::fs::read(&backup).expect("read the backup");
    let bad_files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("text", b"this is not a backup\n".to_vec()),
        ("truncated to its first half", good[..good.len() / 2].to_vec()),
        ("truncated to its SQLite header", good[..100].to_vec()),
        // SQLite reads these pages only when a query needs them: a restore
        // that checks no more than the file's format takes them as sound.
        ("with one page in the middle overwritten", damaged_page(&good, good.len() / PAGE / 2)),
        ("with its last page overwritten", damaged_page(&good, good.len() / PAGE - 1)),
        ("with its middle overwritten", {
            let mut damaged = good.clone();
            let (from, to) = (good.len() / 4, good.len() * 3 / 4);
            damaged[from..to].fill(0xA5);
            damaged
        }),
    ];
    let mut refused = Vec::new();
    for (what, bytes) in &bad_files {
        let path = dir.path().join(format!("bad-{}.sqlite", refused.len()));
        std::fs::write(&path, bytes).expect("write the bad file");
        let (code, stderr) = run(&["restore", path.to_str().expect("utf-8")], &store_env);
        refused.push((*what, code, stderr));
    }
    let missing = dir.path().join("no-such-backup.sqlite");
    let (code, stderr) = run(&["restore", missing.to_str().expect("utf-8")], &store_env);
    refused.push(("missing", code, stderr));
    for (what, code, stderr) in &refused {
        eprintln!("restore from a {what} file: exit {code:?}: {}", stderr.trim_end());
    }
    for (what, code, stderr) in &refused {
        assert_eq!(*code, Some(1), "restore from a {what} file must fail with exit 1: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line for a {what} file: {stderr}");
        assert!(stderr.starts_with("krv-server: "), "{what}: {stderr}");
    }

    let mut server = Server::spawn(dir.path(), &redis, &[("DYNAMODB_DATA_PATH", &data_path)]);
    server.wait_ready(&client, "http").await;
    let (status, body) = me(&client, &server, Credential::Cookie(&admin)).await;
    assert_eq!(status, 200, "the admin's session after the failed restores: {body}\n{}", server.log());
    let names = usernames(&client, &server, &admin).await;
    for name in ["root", "alice", "bob"] {
        assert!(names.iter().any(|n| n == name), "{name} is gone after the failed restores: {names:?}");
    }
    // The store still takes writes.
    assert_eq!(create_user(&client, &server, &admin, "carol").await, 201, "{}", server.log());

    // Into a missing store, a refused restore creates nothing.
    let absent = dir.path().join("elsewhere").join("dynamodb.sqlite");
    let damaged = dir.path().join("bad-0.sqlite");
    let env = [("DYNAMODB_DATA_PATH", absent.to_str().expect("utf-8")), ("SESSION_SIGNING_KEY", KEY)];
    let (code, stderr) = run(&["restore", damaged.to_str().expect("utf-8")], &env);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!absent.exists(), "a refused restore created the store");
}
