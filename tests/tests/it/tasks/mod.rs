//! Tasks and the approval workflow: the product page's sequence with a real
//! webhook receiver, races between approvals, visibility per role, the badge.

mod approval;
mod dispatch;
mod reading;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use krv_tests::TestApp;
use serde_json::Value;

const WEBHOOK_SECRET: &str = "webhook-secret-0123456789abcdef-0123";

/// A webhook receiver on loopback that records what it gets, and can be told to fail.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Bytes)>>>,
    failing: Arc<Mutex<bool>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Self::default();
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    if *state.failing.lock().expect("lock") {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let signature =
                        headers.get("x-kohakuriver-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    state.got.lock().expect("lock").push((signature, body));
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn deliveries(&self) -> Vec<(String, Value)> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|(sig, body)| (sig.clone(), serde_json::from_slice(body).expect("JSON body")))
            .collect()
    }

    /// Checks a delivery's signature the way a receiver must.
    fn verify(&self, index: usize) -> Value {
        let (sig, body) = self.got.lock().expect("lock")[index].clone();
        let t: i64 = sig.split(',').next().and_then(|p| p.strip_prefix("t=")).and_then(|t| t.parse().ok()).expect("t=");
        assert_eq!(sig, shared::tasks::dispatch::signature(WEBHOOK_SECRET, t, &body), "signature does not verify");
        serde_json::from_slice(&body).expect("JSON")
    }
}

/// An app with an admin, an operator "oper" and users "alice" and "bob" (sessions returned in that order).
async fn team(overrides: &[(&str, &str)]) -> (TestApp, [String; 4]) {
    let app = TestApp::builder().envs(overrides).build().await;
    let admin = app.with_admin().await;
    let oper = app.with_user("oper", "operator").await;
    let alice = app.with_user("alice", "user").await;
    let bob = app.with_user("bob", "user").await;
    (app, [admin.token, oper.token, alice.token, bob.token])
}
