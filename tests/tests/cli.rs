//! The `kohakuriver` command-line client against a real service: the built
//! binary, run as a user would, with its own config directory per test.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

/// One user's shell: a config directory and a server.
struct Cli {
    url: String,
    home: tempfile::TempDir,
}

/// A finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "the command failed\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "unexpected exit code\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        self.ok();
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl Cli {
    fn new(url: &str) -> Self {
        Self { url: url.to_owned(), home: tempfile::tempdir().expect("temp dir") }
    }

    fn config_dir(&self) -> PathBuf {
        self.home.path().join("config")
    }

    fn credentials(&self) -> PathBuf {
        self.config_dir().join("kohakuriver").join("credentials.json")
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[]).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(&all).await.json()
    }

    /// Runs the binary with a clean environment: this shell's home and config
    /// directory, the server in `KOHAKURIVER_HOST`, then `env`.
    async fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(krv_tests::bins::binary("kohakuriver"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("KOHAKURIVER_HOST", &self.url)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.unwrap_or("").to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("the binary starts");
            let mut pipe = child.stdin.take().expect("stdin");
            // The binary may exit without reading; a broken pipe is fine then.
            let _ = pipe.write_all(input.as_bytes());
            drop(pipe);
            let output = child.wait_with_output().expect("the binary finishes");
            Run {
                code: output.status.code().expect("exited, not killed"),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        })
        .await
        .expect("the blocking task completes")
    }

    /// `auth login` for `name` with the test password on stdin.
    async fn login(&self, name: &str) -> Run {
        let input = format!("{PASSWORD}\n");
        self.run_with(&["auth", "login", "--username", name, "--password-stdin"], Some(&input), &[]).await
    }

    /// The token the credentials file holds for this shell's server.
    fn stored_token(&self) -> String {
        let file: Value = serde_json::from_slice(&std::fs::read(self.credentials()).expect("credentials file"))
            .expect("credentials JSON");
        file["servers"][&self.url]["token"].as_str().expect("a stored token").to_owned()
    }
}

/// A served app with its first admin, and a shell logged in as that admin.
async fn admin_shell() -> (TestApp, krv_tests::ServerGuard, String, Cli) {
    let app = TestApp::start().await;
    let (url, guard) = app.serve().await;
    let admin = app.first_admin("admin").await;
    let cli = Cli::new(&url);
    cli.login("admin").await.ok();
    (app, guard, admin, cli)
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array().expect("a JSON array").iter().filter_map(|i| i[key].as_str()).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_commands_work_as_written() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    app.first_admin("admin").await;
    let cli = Cli::new(&url);

    let login = cli.run(&["auth", "login", "--username", "admin", "--password", PASSWORD]).await;
    login.ok();
    assert!(login.stdout.contains("Logged in"), "{login:?}");

    let created = cli.run(&["auth", "token", "create", "my-script-token"]).await;
    created.ok();
    let token = created.stdout.trim().to_owned();
    assert!(token.starts_with("krv_"), "the token alone is printed: {created:?}");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);

    let list = cli.run(&["auth", "token", "list"]).await;
    list.ok();
    assert!(list.stdout.contains("my-script-token"), "{list:?}");
    assert!(!list.stdout.contains(&token), "listing never shows a secret");
    assert!(names(&cli.json(&["auth", "token", "list"]).await, "name").contains(&"my-script-token".to_owned()));

    cli.run(&["auth", "token", "revoke", "my-script-token"]).await.ok();
    assert!(!names(&cli.json(&["auth", "token", "list"]).await, "name").contains(&"my-script-token".to_owned()));
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);

    // By id too, with --json and an expiry.
    let created = cli.json(&["auth", "token", "create", "short", "--expires-in-days", "7"]).await;
    assert!(created["expires_at"].is_string(), "{created}");
    let id = created["id"].as_u64().expect("id").to_string();
    let revoked = cli.json(&["auth", "token", "revoke", &id]).await;
    assert!(revoked["message"].as_str().expect("message").contains("short"), "{revoked}");
    cli.run(&["auth", "token", "revoke", "no-such-token"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_leaves_no_session_and_stores_the_token_for_the_user_only() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "alice", "user").await;
    let cli = Cli::new(&url);

    cli.login("alice").await.ok();
    let mode = std::fs::metadata(cli.credentials()).expect("credentials file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "credentials file mode {mode:o}");
    let dir_mode = std::fs::metadata(cli.config_dir().join("kohakuriver")).expect("dir").permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "the directory is the user's only: {dir_mode:o}");
    let token = cli.stored_token();
    assert!(token.starts_with("krv_"), "an API token is stored, not a session");

    let sessions = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&token), None).await;
    sessions.assert_status(StatusCode::OK);
    assert_eq!(sessions.json(), json!([]), "the login session was ended");
    let users = app.call(Method::GET, "/api/auth/users", Auth::Bearer(&admin), None).await.json();
    let alice = users.as_array().expect("array").iter().find(|u| u["username"] == "alice").expect("alice").clone();
    assert_eq!(alice["active_sessions"], 0, "{alice}");

    let status = cli.json(&["auth", "status"]).await;
    assert_eq!(status["username"], "alice");
    assert_eq!(status["role"], "user");
    assert_eq!(status["server"], url.as_str());
    assert_eq!(status["auth_method"], "api_token");
    assert!(status["token_name"].is_string(), "{status}");
    let human = cli.run(&["auth", "status"]).await;
    human.ok();
    assert!(human.stdout.contains("alice") && human.stdout.contains(&url), "{human:?}");

    // A second login from the same machine gets a token of its own.
    cli.login("alice").await.ok();
    assert_ne!(cli.stored_token(), token);
    let tokens = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&token), None).await.json();
    assert_eq!(tokens.as_array().expect("array").len(), 2, "{tokens}");

    // KOHAKURIVER_TOKEN wins over the file.
    let (ci_token, _) = app.create_token(&admin, "ci").await;
    let run = cli.run_with(&["--json", "auth", "status"], None, &[("KOHAKURIVER_TOKEN", &ci_token)]).await;
    let status = run.json();
    assert_eq!(status["username"], "admin");
    assert_eq!(status["token_source"], "KOHAKURIVER_TOKEN");

    // Logging out with --revoke ends the token on the server and forgets it.
    let current = cli.stored_token();
    cli.run(&["auth", "logout", "--revoke"]).await.ok();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&current), None).await.assert_status(StatusCode::UNAUTHORIZED);
    let file: Value = serde_json::from_slice(&std::fs::read(cli.credentials()).expect("file")).expect("JSON");
    assert!(file["servers"].get(&url).is_none(), "{file}");
    cli.run(&["auth", "status"]).await.code(3);
    // A plain logout keeps the token valid on the server.
    cli.login("alice").await.ok();
    let kept = cli.stored_token();
    cli.run(&["auth", "logout"]).await.ok();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&kept), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_token_is_checked_before_it_is_stored_and_passwords_change() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    let admin = app.first_admin("admin").await;
    let cli = Cli::new(&url);

    let bad = "krv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refused = cli.run(&["auth", "login", "--token", bad]).await;
    refused.code(3);
    assert!(refused.stderr.contains("refused"), "{refused:?}");
    assert!(!cli.credentials().exists(), "nothing is stored for a refused token");

    let (token, _) = app.create_token(&admin, "laptop").await;
    cli.run(&["auth", "login", "--token", &token]).await.ok();
    assert_eq!(cli.stored_token(), token);
    let status = cli.json(&["auth", "status"]).await;
    assert_eq!(status["username"], "admin");
    assert_eq!(status["token_name"], "laptop", "the token is recognised in the list");

    let new_password = "Another-Long-Passphrase-42";
    let input = format!("{PASSWORD}\n{new_password}\n");
    cli.run_with(&["auth", "password", "--password-stdin"], Some(&input), &[]).await.ok();
    let body = json!({"username": "admin", "password": new_password});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await.assert_status(StatusCode::OK);
    let wrong = cli.run_with(&["auth", "password", "--password-stdin"], Some(&input), &[]).await;
    wrong.code(3);

    // Logging out with --revoke finds the id of a token stored with --token.
    cli.run(&["auth", "logout", "--revoke"]).await.ok();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_commands_manage_accounts() {
    let (app, _guard, _admin, cli) = admin_shell().await;
    let input = format!("{PASSWORD}\n");
    let run = cli
        .run_with(&["--json", "users", "create", "bob", "--role", "user", "--password-stdin"], Some(&input), &[])
        .await;
    let created = run.json();
    assert_eq!(created["user"]["username"], "bob");
    let bob_id = created["user"]["id"].as_u64().expect("id");
    app.login("bob").await;

    let list = cli.json(&["users", "list"]).await;
    assert!(names(&list, "username").contains(&"bob".to_owned()), "{list}");
    assert_eq!(cli.json(&["users", "list", "--limit", "1"]).await.as_array().expect("array").len(), 1);
    let human = cli.run(&["users", "list"]).await;
    human.ok();
    assert!(human.stdout.contains("bob") && human.stdout.contains("admin"), "{human:?}");

    let shown = cli.json(&["users", "show", "bob"]).await;
    assert_eq!(shown["id"], bob_id);
    assert_eq!(cli.json(&["users", "show", &bob_id.to_string()]).await["username"], "bob");

    assert_eq!(cli.json(&["users", "role", "bob", "operator"]).await["role"], "operator");
    assert_eq!(cli.json(&["users", "disable", "bob"]).await["is_active"], false);
    assert_eq!(cli.json(&["users", "enable", "bob"]).await["is_active"], true);
    cli.run(&["users", "role", "bob", "emperor"]).await.code(5);

    let new_password = "Fresh-Passphrase-Number-7";
    let input = format!("{new_password}\n");
    let reset =
        cli.run_with(&["--json", "users", "reset-password", "bob", "--password-stdin"], Some(&input), &[]).await;
    assert!(reset.json()["message"].is_string());
    let body = json!({"username": "bob", "password": new_password});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await.assert_status(StatusCode::OK);

    assert!(cli.json(&["users", "unlock", "bob"]).await["message"].is_string());
    let unlocked = cli.run(&["users", "unlock", "bob"]).await;
    unlocked.ok();

    assert!(cli.json(&["users", "delete", "bob", "--yes"]).await["message"].is_string());
    cli.run(&["users", "show", "bob"]).await.code(4);
    cli.run(&["users", "show", &bob_id.to_string()]).await.code(4);
    // Refused without a terminal to confirm on.
    cli.run(&["users", "delete", "admin"]).await.code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_commands_print_the_code_and_the_register_url() {
    let (app, _guard, _admin, cli) = admin_shell().await;
    cli.run(&["groups", "create", "gpu"]).await.ok();

    let created = cli
        .json(&["invite", "create", "--role", "viewer", "--group", "gpu", "--max-uses", "2", "--expires-hours", "5"])
        .await;
    let code = created["code"].as_str().expect("code").to_owned();
    assert!(code.starts_with("inv_"), "{created}");
    assert!(created["register_url"].as_str().expect("url").contains(&code), "{created}");
    assert_eq!(created["max_uses"], 2);

    let human = cli.run(&["invite", "create"]).await;
    human.ok();
    assert!(human.stdout.contains("inv_") && human.stdout.contains("register?token="), "{human:?}");

    let list = cli.json(&["invite", "list"]).await;
    assert_eq!(list.as_array().expect("array").len(), 2, "{list}");
    let id = created["id"].as_u64().expect("id");
    assert!(list.as_array().expect("array").iter().any(|i| i["id"] == id && i["role"] == "viewer"));
    let listed = cli.run(&["invite", "list"]).await;
    listed.ok();
    assert!(!listed.stdout.contains(&code), "codes are never listed");

    cli.json(&["invite", "revoke", &id.to_string()]).await;
    let body = json!({"username": "newbie", "password": PASSWORD, "invitation_code": code});
    let refused = app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a revoked code stops working");
    cli.run(&["invite", "revoke", "999999"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commands_manage_groups_and_members() {
    let (app, _guard, admin, cli) = admin_shell().await;
    app.create_user(&admin, "alice", "user").await;

    let group = cli.json(&["groups", "create", "gpu", "--description", "GPU users"]).await;
    assert_eq!(group["name"], "gpu");
    let gid = group["id"].as_u64().expect("id");
    cli.run(&["groups", "create", "GPU"]).await.code(5);
    assert_eq!(names(&cli.json(&["groups", "list"]).await, "name"), vec!["gpu".to_owned()]);

    assert_eq!(cli.json(&["groups", "add-member", "gpu", "alice"]).await["added"], true);
    let members = cli.json(&["groups", "members", &gid.to_string()]).await;
    assert_eq!(names(&members, "username"), vec!["alice".to_owned()]);
    let human = cli.run(&["groups", "list"]).await;
    human.ok();
    assert!(human.stdout.contains("GPU users"), "{human:?}");

    cli.json(&["groups", "remove-member", "gpu", "alice"]).await;
    assert_eq!(cli.json(&["groups", "members", "gpu"]).await, json!([]));
    cli.run(&["groups", "remove-member", "gpu", "alice"]).await.code(4);

    cli.json(&["groups", "delete", "gpu"]).await;
    assert_eq!(cli.json(&["groups", "list"]).await, json!([]));
    cli.run(&["groups", "delete", "gpu"]).await.code(4);
}

async fn submit(app: &TestApp, token: &str, body: Value) -> String {
    let response = app.call(Method::POST, "/api/tasks", Auth::Bearer(token), Some(&body)).await;
    response.assert_status(StatusCode::ACCEPTED);
    response.json()["task_ids"][0].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_commands_list_and_decide() {
    let (app, _guard, admin, cli) = admin_shell().await;
    app.create_user(&admin, "alice", "user").await;
    let alice = app.login("alice").await;
    let first = submit(&app, &alice, json!({"command": "make one"})).await;
    let second = submit(&app, &alice, json!({"command": "make two"})).await;
    let third = submit(&app, &alice, json!({"command": "make three"})).await;

    assert_eq!(cli.json(&["tasks", "list"]).await.as_array().expect("array").len(), 3);
    let filtered =
        cli.json(&["tasks", "list", "--status", "pending_approval", "--owner", "alice", "--type", "command"]).await;
    assert_eq!(filtered.as_array().expect("array").len(), 3);
    assert_eq!(cli.json(&["tasks", "show", &first]).await["task_id"], first.as_str());
    let pending = cli.json(&["tasks", "pending"]).await;
    assert_eq!(names(&pending, "task_id"), vec![first.clone(), second.clone(), third.clone()], "oldest first");
    let human = cli.run(&["tasks", "pending"]).await;
    human.ok();
    assert!(human.stdout.contains(&first), "{human:?}");

    let approved = cli.json(&["tasks", "approve", &first]).await;
    assert_eq!(approved["task"]["status"], "assigning", "{approved}");
    let rejected = cli.json(&["tasks", "reject", &second, "--reason", "too big"]).await;
    assert_eq!(rejected["reason"], "too big");
    cli.json(&["tasks", "cancel", &third]).await;
    assert_eq!(cli.json(&["tasks", "show", &third]).await["status"], "cancelled");
    assert_eq!(cli.json(&["tasks", "pending"]).await, json!([]));

    cli.run(&["tasks", "approve", &first]).await.code(5);
    cli.run(&["tasks", "show", "424242"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vps_commands_assign_and_unassign() {
    let (app, _guard, admin, cli) = admin_shell().await;
    let alice_id = app.create_user(&admin, "alice", "user").await;
    let alice = app.login("alice").await;
    let (alice_token, _) = app.create_token(&alice, "alice-ci").await;
    let vps = submit(&app, &admin, json!({"task_type": "vps", "command": "ssh-ed25519 AAAA", "name": "box"})).await;
    cli.run(&["groups", "create", "gpu"]).await.ok();

    let assigned = cli.json(&["vps", "assign", &vps, "--user", "alice", "--group", "gpu"]).await;
    assert_eq!(assigned["task_id"], vps.as_str(), "{assigned}");
    let assignments = cli.json(&["vps", "assignments", &vps]).await;
    assert_eq!(assignments["assignments"][0]["user_id"], alice_id, "{assignments}");
    assert_eq!(assignments["group_assignments"][0]["name"], "gpu", "{assignments}");
    let human = cli.run(&["vps", "assignments", &vps]).await;
    human.ok();
    assert!(human.stdout.contains("alice") && human.stdout.contains("gpu"), "{human:?}");

    let mine = cli.run_with(&["--json", "vps", "my"], None, &[("KOHAKURIVER_TOKEN", &alice_token)]).await.json();
    assert_eq!(names(&mine, "task_id"), vec![vps.clone()]);

    let unassigned = cli.json(&["vps", "unassign", &vps, "--user", "alice", "--group", "gpu"]).await;
    assert_eq!(unassigned["unassigned_users"], json!([alice_id]));
    let assignments = cli.json(&["vps", "assignments", &vps]).await;
    assert_eq!(assignments["assignments"], json!([]));
    assert_eq!(assignments["group_assignments"], json!([]));
    cli.run(&["vps", "unassign", &vps, "--user", "alice"]).await.code(4);
    let mine = cli.run_with(&["--json", "vps", "my"], None, &[("KOHAKURIVER_TOKEN", &alice_token)]).await.json();
    assert_eq!(mine, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_command_reads_the_log() {
    let (app, _guard, admin, cli) = admin_shell().await;
    app.create_user(&admin, "alice", "user").await;

    let logins = cli.json(&["audit", "--action", "auth.login"]).await;
    let events = logins.as_array().expect("array");
    assert!(!events.is_empty(), "{logins}");
    assert!(events.iter().all(|e| e["action"] == "auth.login"), "{logins}");
    assert!(events.iter().any(|e| e["actor"] == "admin"), "{logins}");
    assert_eq!(cli.json(&["audit", "--limit", "1"]).await.as_array().expect("array").len(), 1);
    let by_admin = cli.json(&["audit", "--actor", "admin", "--action", "user.create"]).await;
    assert_eq!(by_admin.as_array().expect("array").len(), 1, "{by_admin}");
    let human = cli.run(&["audit"]).await;
    human.ok();
    assert!(human.stdout.contains("user.create"), "{human:?}");
    cli.run(&["audit", "--since", "yesterday"]).await.code(5);

    // Not for users.
    let alice = app.login("alice").await;
    let (token, _) = app.create_token(&alice, "t").await;
    cli.run_with(&["audit"], None, &[("KOHAKURIVER_TOKEN", &token)]).await.code(3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_complete_and_completions_are_generated() {
    let cli = Cli::new("http://127.0.0.1:9");
    let help = cli.run(&["--help"]).await;
    help.ok();
    for group in ["auth", "users", "invite", "groups", "tasks", "vps", "audit", "completions", "--host", "--json"] {
        assert!(help.stdout.contains(group), "--help lacks {group}: {}", help.stdout);
    }
    let commands: &[&[&str]] = &[
        &["auth"],
        &["auth", "login"],
        &["auth", "logout"],
        &["auth", "status"],
        &["auth", "password"],
        &["auth", "token"],
        &["auth", "token", "create"],
        &["auth", "token", "list"],
        &["auth", "token", "revoke"],
        &["users"],
        &["users", "list"],
        &["users", "show"],
        &["users", "create"],
        &["users", "role"],
        &["users", "enable"],
        &["users", "disable"],
        &["users", "delete"],
        &["users", "reset-password"],
        &["users", "unlock"],
        &["invite"],
        &["invite", "create"],
        &["invite", "list"],
        &["invite", "revoke"],
        &["groups"],
        &["groups", "list"],
        &["groups", "create"],
        &["groups", "delete"],
        &["groups", "add-member"],
        &["groups", "remove-member"],
        &["groups", "members"],
        &["tasks"],
        &["tasks", "list"],
        &["tasks", "show"],
        &["tasks", "pending"],
        &["tasks", "approve"],
        &["tasks", "reject"],
        &["tasks", "cancel"],
        &["vps"],
        &["vps", "assign"],
        &["vps", "unassign"],
        &["vps", "assignments"],
        &["vps", "my"],
        &["audit"],
        &["completions"],
    ];
    for path in commands {
        let mut args = path.to_vec();
        args.push("--help");
        let run = cli.run(&args).await;
        run.ok();
        assert!(run.stdout.contains("Usage: kohakuriver"), "{path:?}: {}", run.stdout);
        assert!(run.stdout.lines().next().is_some_and(|l| !l.trim().is_empty()), "{path:?} has no description");
    }
    let login_help = cli.run(&["auth", "login", "--help"]).await;
    for flag in ["--username", "--password", "--password-stdin", "--token", "--token-name", "scripts"] {
        assert!(login_help.stdout.contains(flag), "login help lacks {flag}");
    }

    let bash = cli.run(&["completions", "bash"]).await;
    bash.ok();
    assert!(bash.stdout.contains("_kohakuriver") && bash.stdout.contains("complete "), "{}", bash.stdout);
    cli.run(&["completions", "zsh"]).await.ok();
    cli.run(&["completions", "fish"]).await.ok();
    cli.run(&["completions", "tcsh-ish"]).await.code(2);
    cli.run(&["users", "role", "bob"]).await.code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_failures_apart() {
    let (_app, _guard, _admin, cli) = admin_shell().await;

    let bogus = [("KOHAKURIVER_TOKEN", "krv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
    cli.run_with(&["auth", "status"], None, &bogus).await.code(3);
    cli.run_with(&["users", "list"], None, &bogus).await.code(3);
    cli.run(&["users", "show", "999999"]).await.code(4);
    cli.run(&["users", "show", "nobody"]).await.code(4);
    cli.run(&["groups", "create", "g"]).await.ok();
    cli.run(&["groups", "create", "g"]).await.code(5);

    // `--host host:port` means http and finds the credentials stored for the URL.
    let bare = cli.url.trim_start_matches("http://").to_owned();
    let users = cli.run_with(&["--json", "--host", &bare, "users", "list"], None, &[("KOHAKURIVER_HOST", "")]).await;
    assert!(names(&users.json(), "username").contains(&"admin".to_owned()));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let run = cli.run_with(&["users", "list"], None, &[("KOHAKURIVER_HOST", &dead)]).await;
    run.code(6);
    assert!(run.stderr.contains(&dead), "the message names the URL: {run:?}");

    // Without any credentials the server's refusal is an auth failure too.
    let anonymous = Cli::new(&cli.url);
    let run = anonymous.run(&["users", "list"]).await;
    run.code(3);
    assert!(run.stderr.contains("auth login"), "{run:?}");
}

/// A stand-in server whose lists page the way the service's may: `/api/tasks`
/// hands out two empty pages that still carry a cursor before its last item
/// (a page is short or empty when the service's cap on examined items ends
/// it); `/api/auth/users` answers with the cursor it was given; and
/// `/api/auth/tokens` never stops handing out new cursors.
async fn paging_server() -> (String, AbortOnDrop) {
    use axum::extract::Query;
    use axum::response::IntoResponse;
    use std::collections::HashMap;

    fn page(items: Value, next: Option<String>) -> axum::response::Response {
        let mut response = axum::Json(items).into_response();
        if let Some(next) = next {
            response.headers_mut().insert("x-next-cursor", next.parse().expect("header value"));
        }
        response
    }
    let tasks = |Query(q): Query<HashMap<String, String>>| async move {
        match q.get("cursor").map(String::as_str) {
            None => page(json!([{"task_id": "3"}]), Some("a".into())),
            Some("a") => page(json!([]), Some("b".into())),
            Some("b") => page(json!([]), Some("c".into())),
            Some("c") => page(json!([{"task_id": "1"}]), None),
            Some(other) => panic!("unexpected cursor {other}"),
        }
    };
    let stuck = |Query(q): Query<HashMap<String, String>>| async move {
        let next = q.get("cursor").cloned().unwrap_or_else(|| "same".into());
        page(json!([]), Some(next))
    };
    let endless = |Query(q): Query<HashMap<String, String>>| async move {
        let n: u64 = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        page(json!([]), Some((n + 1).to_string()))
    };
    let router = axum::Router::new()
        .route("/api/tasks", axum::routing::get(tasks))
        .route("/api/auth/users", axum::routing::get(stuck))
        .route("/api/auth/tokens", axum::routing::get(endless));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, AbortOnDrop(task))
}

/// Stops a spawned server when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A list is complete only when a page has no cursor: empty pages with one
/// are followed, and a server that never ends a list fails the command
/// (exit 6) instead of looping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_cursors_past_empty_pages_and_stop_a_server_that_never_ends() {
    let (url, _guard) = paging_server().await;
    let cli = Cli::new(&url);
    let token = [("KOHAKURIVER_TOKEN", "krv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];

    let tasks = cli.run_with(&["--json", "tasks", "list"], None, &token).await;
    assert_eq!(names(&tasks.json(), "task_id"), vec!["3", "1"], "every page, empty ones included");

    let stuck = cli.run_with(&["users", "list"], None, &token).await;
    stuck.code(6);
    assert!(stuck.stderr.contains("does not advance"), "{stuck:?}");

    let started = std::time::Instant::now();
    let endless = cli.run_with(&["auth", "token", "list"], None, &token).await;
    endless.code(6);
    assert!(endless.stderr.contains("after 10000"), "{endless:?}");
    eprintln!("10,000 empty pages took {:?}", started.elapsed());
}
