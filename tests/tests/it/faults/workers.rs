//! The load of the outage test: its fixture, and the workers that read and
//! write over HTTP and record what the service acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::PACE;
use krv_bench::load::{LoadClient, Sample};
use krv_tests::{Auth, PASSWORD, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The credentials and codes the workers use.
pub(super) struct Fixture {
    pub(super) admin_token: String,
    pub(super) operator_token: String,
    pub(super) user_token: String,
    /// API tokens of users who only create tokens: a user holds at most
    /// `tokens::MAX_PER_USER`, so the creator moves to the next one.
    pub(super) token_holders: Vec<String>,
    pub(super) reader: String,
    pub(super) invitation_code: String,
}

/// What the service acknowledged with a 2xx.
#[derive(Default)]
pub(super) struct Acked {
    pub(super) users: Vec<(u64, String)>,
    pub(super) invited: Vec<(u64, String)>,
    pub(super) tasks: Vec<u64>,
    pub(super) approved: Vec<u64>,
    pub(super) tokens: Vec<(u64, String)>,
}

pub(super) type Shared = Arc<Mutex<Acked>>;

pub(super) async fn fixture(app: &TestApp) -> Fixture {
    let admin_session = app.first_admin("boss").await;
    let (admin_token, _) = app.create_token(&admin_session, "load").await;
    app.create_user(&admin_session, "oper", "operator").await;
    let (operator_token, _) = app.create_token(&app.login("oper").await, "load").await;
    app.create_user(&admin_session, "worker", "user").await;
    let (user_token, _) = app.create_token(&app.login("worker").await, "load").await;
    app.create_user(&admin_session, "reader", "user").await;
    let mut token_holders = Vec::new();
    for i in 0..TOKEN_HOLDERS {
        let name = format!("scripter{i}");
        app.create_user(&admin_session, &name, "user").await;
        token_holders.push(app.create_token(&app.login(&name).await, "load").await.0);
    }
    // Only invitations create viewers here, so the viewers are exactly the
    // users registered with the invitation (checked against its use count).
    let body = json!({"role": "viewer", "max_uses": 1000, "expires_hours": 24});
    let response = app.call(http::Method::POST, "/api/auth/invitations", Auth::Bearer(&admin_token), Some(&body)).await;
    response.assert_status(http::StatusCode::CREATED);
    let invitation_code = response.json()["code"].as_str().expect("invitation code").to_owned();
    Fixture { admin_token, operator_token, user_token, token_holders, reader: "reader".into(), invitation_code }
}

pub(super) fn user_id(sample: &Sample) -> Option<u64> {
    sample.body["user"]["id"].as_u64()
}

/// `/me` with a session, logging in again whenever the session is gone.
pub(super) async fn session_reader(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>) {
    let mut session: Option<String> = None;
    while !stop.load(Ordering::SeqCst) {
        match &session {
            None => {
                let body = json!({"username": fx.reader, "password": PASSWORD});
                let (sample, cookie) =
                    client.send("login", client.request(Method::POST, "/api/auth/login", None, Some(&body))).await;
                if sample.is_success() {
                    session = cookie;
                }
            }
            Some(token) => {
                let (sample, _) =
                    client.send("me-session", client.request(Method::GET, "/api/auth/me", Some(token), None)).await;
                if sample.status == Some(StatusCode::UNAUTHORIZED) {
                    session = None;
                }
            }
        }
        tokio::time::sleep(PACE).await;
    }
}

/// `/me` with an API token (warm: served from the Redis cache alone).
pub(super) async fn token_me(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        client.send("me-token", client.request(Method::GET, "/api/auth/me", Some(&fx.user_token), None)).await;
        tokio::time::sleep(PACE).await;
    }
}

/// Reads with API tokens that need DynamoDB: the user list, the task list, the badge.
pub(super) async fn token_reader(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>) {
    let reads: [(&'static str, &str, &str); 3] = [
        ("list-users", "/api/auth/users?limit=5", &fx.admin_token),
        ("list-tasks", "/api/tasks?limit=5", &fx.user_token),
        ("pending-count", "/api/tasks/pending-approval/count", &fx.operator_token),
    ];
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let (op, path, token) = reads[i % reads.len()];
        client.send(op, client.request(Method::GET, path, Some(token), None)).await;
        i += 1;
        tokio::time::sleep(PACE).await;
    }
}

/// An admin creating users (each attempt with a new name, never retried).
pub(super) async fn user_creator(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>, acked: Shared) {
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let name = format!("made-{n}");
        let body = json!({"username": name, "password": PASSWORD, "role": "user"});
        let request = client.request(Method::POST, "/api/auth/register", Some(&fx.admin_token), Some(&body));
        let (sample, _) = client.send("create-user", request).await;
        if sample.is_success()
            && let Some(id) = user_id(&sample)
        {
            acked.lock().expect("acked lock").users.push((id, name));
        }
        tokio::time::sleep(PACE).await;
    }
}

/// Anonymous registrations with the invitation code.
pub(super) async fn invited_registrar(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>, acked: Shared) {
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let name = format!("invited-{n}");
        let body = json!({"username": name, "password": PASSWORD, "invitation_code": fx.invitation_code});
        let request = client.request(Method::POST, "/api/auth/register", None, Some(&body));
        let (sample, _) = client.send("register-invited", request).await;
        if sample.is_success()
            && let Some(id) = user_id(&sample)
        {
            acked.lock().expect("acked lock").invited.push((id, name));
        }
        tokio::time::sleep(PACE).await;
    }
}

/// A user submitting tasks and an operator approving each acknowledged one once.
pub(super) async fn task_flow(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>, acked: Shared) {
    let mut waiting: Vec<u64> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if let Some(id) = waiting.pop() {
            let path = format!("/api/approve/{id}");
            let (sample, _) =
                client.send("approve-task", client.request(Method::POST, &path, Some(&fx.operator_token), None)).await;
            if sample.is_success() {
                acked.lock().expect("acked lock").approved.push(id);
            }
        } else {
            let body = json!({"command": "make", "arguments": ["all"]});
            let request = client.request(Method::POST, "/api/tasks", Some(&fx.user_token), Some(&body));
            let (sample, _) = client.send("submit-task", request).await;
            if sample.is_success() {
                let ids: Vec<u64> = sample.body["task_ids"]
                    .as_array()
                    .map(|ids| ids.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
                    .unwrap_or_default();
                acked.lock().expect("acked lock").tasks.extend(&ids);
                waiting.extend(ids);
            }
        }
        tokio::time::sleep(PACE).await;
    }
}

/// How many users the token creator goes through, and how many tokens it
/// creates with each (below the cap, counting the holder's own).
pub(super) const TOKEN_HOLDERS: usize = 12;
pub(super) const TOKENS_PER_HOLDER: usize = 90;
/// Token creation is paced apart: at most ~700 in a run, within the holders.
pub(super) const TOKEN_PACE: Duration = Duration::from_millis(50);

/// Users creating API tokens, one after another.
pub(super) async fn token_creator(client: LoadClient, fx: Arc<Fixture>, stop: Arc<AtomicBool>, acked: Shared) {
    let (mut n, mut created) = (0u64, 0usize);
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let holder = fx.token_holders.get(created / TOKENS_PER_HOLDER).expect("enough token holders for the run");
        let body = json!({"name": format!("script-{n}")});
        let request = client.request(Method::POST, "/api/auth/tokens", Some(holder), Some(&body));
        let (sample, _) = client.send("create-token", request).await;
        if sample.is_success()
            && let (Some(id), Some(token)) = (sample.body["id"].as_u64(), sample.body["token"].as_str())
        {
            acked.lock().expect("acked lock").tokens.push((id, token.to_owned()));
            created += 1;
        }
        tokio::time::sleep(TOKEN_PACE).await;
    }
}
