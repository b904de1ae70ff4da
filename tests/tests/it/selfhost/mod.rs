//! Self-hosted single-node mode, against the built `krv-server` binary run as
//! a child process: HTTPS, graceful shutdown under load, backup and restore.

mod backup;
mod restart;
mod shutdown;
mod tls;

use std::time::Duration;

use std::path::PathBuf;

use krv_tests::RedisServer;
use krv_tests::server_process::{SIGNING_KEY, ServerProcess as Server};
use krv_tests::{PASSWORD, REGISTER_SECRET};
use serde_json::json;

/// `krv-server` with `args` and the store settings `env`; its exit code and stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    krv_tests::bins::run("krv-server", args, env)
}

/// A client that waits long enough for a slow answer.
fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

const READY_WITHIN: Duration = Duration::from_secs(60);

/// A self-hosted node with its store on disk: the store's file in a temporary
/// folder, a Redis left running across the server's restarts, and a client.
struct Node {
    dir: tempfile::TempDir,
    data: PathBuf,
    redis: RedisServer,
    client: reqwest::Client,
}

impl Node {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data").join("dynamodb.sqlite");
        let redis = RedisServer::start().await.expect("redis");
        Self { dir, data, redis, client: client() }
    }

    fn data_path(&self) -> &str {
        self.data.to_str().expect("utf-8")
    }

    /// The settings `krv-server backup` and `restore` need.
    fn store_env(&self) -> [(&str, &str); 2] {
        [("DYNAMODB_DATA_PATH", self.data_path()), ("SESSION_SIGNING_KEY", SIGNING_KEY)]
    }

    /// `krv-server` on the store, ready.
    async fn start(&self) -> Server {
        let mut server = Server::spawn(self.dir.path(), &self.redis, &[("DYNAMODB_DATA_PATH", self.data_path())]);
        server.wait_ready_with(&self.client, READY_WITHIN).await;
        server
    }
}

/// The session token a registration or login response's cookie sets.
fn session_token(response: &reqwest::Response) -> String {
    krv_bench::load::session_cookie(response.headers()).expect("a session cookie")
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
    let request = client.get(server.url("/api/auth/me"));
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
        .post(server.url("/api/auth/register"))
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
        .post(server.url("/api/auth/register"))
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
    let users = client.get(server.url("/api/auth/users")).bearer_auth(admin).send().await.expect("list users");
    assert_eq!(users.status(), reqwest::StatusCode::OK);
    let users: serde_json::Value = users.json().await.expect("JSON");
    users.as_array().expect("an array").iter().filter_map(|u| u["username"].as_str().map(str::to_owned)).collect()
}
