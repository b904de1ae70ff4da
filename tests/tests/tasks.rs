//! Tasks and the approval workflow: the product page's sequence with a real
//! webhook receiver, races between approvals, visibility per role, the badge.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use http::Method;
use krv_tests::lambda::LambdaRuntime;
use krv_tests::{ADMIN_SECRET, Auth, TestApp, TestResponse};
use serde_json::{Value, json};

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

async fn submit(app: &TestApp, token: &str, body: Value) -> TestResponse {
    app.call(Method::POST, "/api/tasks", Auth::Bearer(token), Some(&body)).await
}

fn first_id(response: &TestResponse) -> String {
    response.json()["task_ids"][0].as_str().expect("task ids are strings").to_owned()
}

/// Marks task `id`'s announcement as failed and due for a retry now (instead
/// of waiting out the backoff).
async fn make_announcement_due(app: &TestApp, id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stores = &app.state.stores;
    stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.tasks)
        .key("pk", AttributeValue::S(format!("TASK#{id}")))
        .key("sk", AttributeValue::S("TASK".into()))
        .update_expression("SET dispatch_state = :p, dispatch_due_ms = :now")
        .expression_attribute_values(":p", AttributeValue::S("pending".into()))
        .expression_attribute_values(":now", AttributeValue::N("0".into()))
        .send()
        .await
        .expect("update");
}

/// An app with an admin, an operator "oper" and users "alice" and "bob" (sessions returned in that order).
async fn team(overrides: &[(&str, &str)]) -> (TestApp, [String; 4]) {
    let app = TestApp::start_with(overrides).await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "oper", "operator").await;
    app.create_user(&admin, "alice", "user").await;
    app.create_user(&admin, "bob", "user").await;
    let sessions = [admin, app.login("oper").await, app.login("alice").await, app.login("bob").await];
    (app, sessions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_sequence_ends_with_a_signed_webhook() {
    let (receiver, url) = Receiver::start().await;
    let (app, [_, op, alice, _]) =
        team(&[("DISPATCH_WEBHOOK_URL", &url), ("DISPATCH_WEBHOOK_SECRET", WEBHOOK_SECRET)]).await;

    let submitted = submit(
        &app,
        &alice,
        json!({"command": "python train.py", "arguments": ["--epochs", "3"], "env_vars": {"WANDB_KEY": "s3cret"},
               "required_cores": 4, "targets": ["node1"], "required_gpus": [[0]], "privileged": true,
               "additional_mounts": ["/data:/data"]}),
    )
    .await;
    submitted.assert_status(StatusCode::ACCEPTED);
    let id = first_id(&submitted);
    assert_eq!(submitted.json()["status"], "pending_approval");
    assert!(receiver.deliveries().is_empty(), "nothing is dispatched before approval");

    let pending = app.call(Method::GET, "/api/tasks/pending-approval", Auth::Bearer(&op), None).await.json();
    let task = &pending[0];
    assert_eq!(task["task_id"], id.as_str());
    assert_eq!(task["privileged"], true, "approvers see what they approve");
    assert_eq!(task["additional_mounts"], json!(["/data:/data"]));
    assert_eq!(task["owner_username"], "alice");
    let count = app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(&op), None).await.json();
    assert_eq!(count, json!({"count": 1}));

    let approved = app.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(&op), None).await;
    approved.assert_status(StatusCode::OK);
    let task = &approved.json()["task"];
    assert_eq!(task["status"], "assigning");
    assert_eq!(task["approved_by_username"], "oper");
    assert_eq!(task["dispatch_state"], Value::Null, "the view is taken before the announcement");

    let delivered = receiver.verify(0);
    assert_eq!(delivered["event"], "task.assigning");
    assert_eq!(delivered["task"]["task_id"], id.as_str());
    assert_eq!(delivered["task"]["command"], "python train.py");
    let listed = app.call(Method::GET, "/api/tasks?status=assigning", Auth::Bearer(&op), None).await.json();
    assert_eq!(listed[0]["task_id"], id.as_str());
    assert_eq!(listed[0]["dispatch_state"], "delivered");
    let count = app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(&op), None).await.json();
    assert_eq!(count, json!({"count": 0}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_never_loses_the_task_and_is_retried() {
    let (receiver, url) = Receiver::start().await;
    *receiver.failing.lock().expect("lock") = true;
    let (app, [_, op, alice, _]) = team(&[
        ("DISPATCH_WEBHOOK_URL", &url),
        ("DISPATCH_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("DISPATCH_TIMEOUT_MS", "400"),
    ])
    .await;
    let id = first_id(&submit(&app, &alice, json!({"command": "make"})).await);
    app.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(&op), None).await.assert_status(StatusCode::OK);
    let task = app.call(Method::GET, &format!("/api/tasks/{id}"), Auth::Bearer(&op), None).await.json();
    assert_eq!(task["status"], "assigning", "the task is committed whatever the webhook does");
    assert_eq!(task["dispatch_state"], "pending");

    // The receiver recovers; make the retry due now and run the retry pass.
    *receiver.failing.lock().expect("lock") = false;
    make_announcement_due(&app, &id).await;
    // On AWS the retry pass is its own Lambda on an EventBridge schedule: run
    // the real binary with a scheduled event.
    let retry = LambdaRuntime::for_app(
        &app,
        "krv-tasks-retry",
        &[("DISPATCH_WEBHOOK_URL", &url), ("DISPATCH_WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .await;
    let scheduled = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-24T06:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/retry"], "detail": {}
    });
    assert_eq!(retry.invoke(scheduled).await, Ok(json!({"delivered": 1})));
    assert_eq!(receiver.verify(0)["task"]["task_id"], id.as_str());
    let task = app.call(Method::GET, &format!("/api/tasks/{id}"), Auth::Bearer(&op), None).await.json();
    assert_eq!(task["dispatch_state"], "delivered");
    assert_eq!(krv_tasks::retry_dispatch(&app.state).await.expect("retry"), 0, "nothing left to retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_pass_finds_a_due_announcement_past_the_first_page() {
    let (receiver, url) = Receiver::start().await;
    let (app, [_, op, _, _]) =
        team(&[("DISPATCH_WEBHOOK_URL", &url), ("DISPATCH_WEBHOOK_SECRET", WEBHOOK_SECRET)]).await;
    // Operators' tasks go straight to `assigning` and are announced at once:
    // 150 delivered tasks stay in the status index ahead of the last one.
    let mut last = String::new();
    for i in 0..150 {
        last = first_id(&submit(&app, &op, json!({"command": format!("job {i}")})).await);
    }
    assert_eq!(receiver.deliveries().len(), 150);
    make_announcement_due(&app, &last).await;
    assert_eq!(krv_tasks::retry_dispatch(&app.state).await.expect("retry"), 1, "the newest task is on page two");
    assert_eq!(receiver.verify(150)["task"]["task_id"], last.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_approvals_let_exactly_one_through() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let other = app.another_instance().await;
    let id = first_id(&submit(&app, &alice, json!({"command": "make"})).await);
    let path = format!("/api/approve/{id}");
    let calls = (0..10).map(|i| {
        let (instance, token) = if i % 2 == 0 { (&app, op.clone()) } else { (&other, admin.clone()) };
        let path = path.clone();
        async move { instance.call(Method::POST, &path, Auth::Bearer(&token), None).await }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.status == StatusCode::OK).count();
    let conflicts: Vec<&TestResponse> = results.iter().filter(|r| r.status == StatusCode::CONFLICT).collect();
    assert_eq!((ok, conflicts.len()), (1, 9), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(conflicts[0].json()["detail"].as_str().is_some_and(|d| d.contains("status: assigning")));
    let audit = app.call(Method::GET, "/api/admin/audit?action=task.approve", Auth::Bearer(&admin), None).await.json();
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "one approval, one audit event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_and_reject_racing_leave_exactly_one_decision() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    for _ in 0..5 {
        let id = first_id(&submit(&app, &alice, json!({"command": "make"})).await);
        let (approve_path, reject_path) = (format!("/api/approve/{id}"), format!("/api/reject/{id}"));
        let body = json!({"reason": "too big"});
        let (a, r) = tokio::join!(
            app.call(Method::POST, &approve_path, Auth::Bearer(&op), None),
            app.call(Method::POST, &reject_path, Auth::Bearer(&admin), Some(&body)),
        );
        assert_eq!(
            [a.status, r.status].iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{} {}",
            a.status,
            r.status
        );
        let task = app.call(Method::GET, &format!("/api/tasks/{id}"), Auth::Bearer(&op), None).await.json();
        let decided = if a.status == StatusCode::OK { "assigning" } else { "rejected" };
        assert_eq!(task["status"], decided);
    }
    let count = app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(&op), None).await.json();
    assert_eq!(count["count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_each_role_may_read_of_a_task() {
    let (app, [admin, op, alice, bob]) = team(&[]).await;
    app.create_user(&admin, "vic", "viewer").await;
    let vic = app.login("vic").await;
    let body = json!({"command": "train --token abc", "arguments": ["--x"], "env_vars": {"SECRET": "v"}, "ip_reservation_token": "ipr"});
    let id = first_id(&submit(&app, &alice, body).await);
    for (who, token, full) in [
        ("alice", &alice, true),
        ("op", &op, true),
        ("admin", &admin, true),
        ("bob", &bob, false),
        ("vic", &vic, false),
    ] {
        for path in [format!("/api/tasks/{id}"), format!("/api/status/{id}")] {
            let task = app.call(Method::GET, &path, Auth::Bearer(token), None).await;
            task.assert_status(StatusCode::OK);
            let task = task.json();
            assert_eq!(task["redacted"], !full, "{who} {path}");
            if full {
                assert_eq!(task["command"], "train --token abc", "{who}");
                assert_eq!(task["env_vars"]["SECRET"], "v", "{who}");
            } else {
                for field in ["command", "arguments", "env_vars", "ip_reservation_token"] {
                    assert_eq!(task[field], Value::Null, "{who} must not read {field}");
                }
                assert_eq!(task["owner_username"], "alice", "summaries still say whose it is");
                assert_eq!(task["status"], "pending_approval");
            }
        }
        let listed = app.call(Method::GET, "/api/tasks", Auth::Bearer(token), None).await.json();
        assert_eq!(listed[0]["redacted"], !full, "{who} in the list");
        assert!(!listed.to_string().contains("SECRET") || full, "{who} sees env_vars in the list");
    }
    app.call(Method::GET, "/api/tasks/pending-approval", Auth::Bearer(&alice), None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.call(Method::GET, "/api/tasks/12345", Auth::Bearer(&op), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, "/api/tasks/not-an-id", Auth::Bearer(&op), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, &format!("/api/tasks/{id}"), Auth::None, None).await.assert_status(StatusCode::UNAUTHORIZED);
}

async fn pending_count(app: &TestApp, token: &str) -> Value {
    app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(token), None).await.json()["count"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_matches_the_list_under_concurrent_submissions() {
    let (app, [_, op, alice, bob]) = team(&[]).await;
    let other = app.another_instance().await;
    let calls = (0..20).map(|i| {
        let (instance, token) = if i % 2 == 0 { (&app, alice.clone()) } else { (&other, bob.clone()) };
        async move { submit(instance, &token, json!({"command": format!("job {i}")})).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.status == StatusCode::ACCEPTED));
    let pending = app.call(Method::GET, "/api/tasks/pending-approval?limit=500", Auth::Bearer(&op), None).await.json();
    assert_eq!(pending_count(&app, &op).await, 20);
    assert_eq!(pending.as_array().map(Vec::len), Some(20));
    // Oldest first.
    let times: Vec<&str> =
        pending.as_array().expect("array").iter().filter_map(|t| t["submitted_at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    let ids: Vec<String> =
        pending.as_array().expect("array").iter().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect();
    let decisions = ids.iter().take(6).enumerate().map(|(i, id)| {
        let path = if i % 2 == 0 { format!("/api/approve/{id}") } else { format!("/api/reject/{id}") };
        let op = op.clone();
        let instance = if i % 3 == 0 { &app } else { &other };
        async move { instance.call(Method::POST, &path, Auth::Bearer(&op), None).await }
    });
    futures::future::join_all(decisions).await;
    let pending = app.call(Method::GET, "/api/tasks/pending-approval?limit=500", Auth::Bearer(&op), None).await.json();
    assert_eq!(pending_count(&other, &op).await, 14);
    assert_eq!(pending.as_array().map(Vec::len), Some(14));
    let stats = app.call(Method::GET, "/api/admin/stats", Auth::AdminSecret(ADMIN_SECRET), None).await.json();
    assert_eq!(stats["pending_approvals"], 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_submits_decides_the_path_and_operators_cannot_approve_their_own() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let own = submit(&app, &op, json!({"command": "deploy"})).await;
    assert_eq!(own.json()["status"], "assigning");
    let task = app.call(Method::GET, &format!("/api/tasks/{}", first_id(&own)), Auth::Bearer(&op), None).await.json();
    assert_eq!(task["approved_by_username"], "oper", "operators approve their own submissions by submitting");
    let system =
        app.call(Method::POST, "/api/tasks", Auth::AdminSecret(ADMIN_SECRET), Some(&json!({"command": "x"}))).await;
    let task =
        app.call(Method::GET, &format!("/api/tasks/{}", first_id(&system)), Auth::Bearer(&op), None).await.json();
    assert_eq!((task["status"].as_str(), task["owner_username"].as_str()), (Some("assigning"), Some("_system")));

    // A user's pending task, whose owner is then promoted to operator: no self-approval.
    let pending = first_id(&submit(&app, &alice, json!({"command": "mine"})).await);
    let alice_id =
        app.call(Method::GET, "/api/auth/me", Auth::Bearer(&alice), None).await.json()["id"].as_u64().expect("id");
    app.call(
        Method::PUT,
        &format!("/api/auth/users/{alice_id}/role"),
        Auth::Bearer(&admin),
        Some(&json!({"role": "operator"})),
    )
    .await
    .assert_status(StatusCode::OK);
    app.call(Method::POST, &format!("/api/approve/{pending}"), Auth::Bearer(&alice), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "own_task");
    app.call(
        Method::PUT,
        &format!("/api/auth/users/{alice_id}/role"),
        Auth::Bearer(&admin),
        Some(&json!({"role": "admin"})),
    )
    .await
    .assert_status(StatusCode::OK);
    app.call(Method::POST, &format!("/api/approve/{pending}"), Auth::Bearer(&alice), None)
        .await
        .assert_status(StatusCode::OK);
    // Viewers cannot submit.
    app.create_user(&admin, "vic", "viewer").await;
    let vic = app.login("vic").await;
    submit(&app, &vic, json!({"command": "x"})).await.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_cancel_while_pending_and_rejections_keep_their_reason() {
    let (app, [_, op, alice, bob]) = team(&[]).await;
    let id = first_id(&submit(&app, &alice, json!({"command": "x"})).await);
    app.call(Method::POST, &format!("/api/tasks/{id}/cancel"), Auth::Bearer(&bob), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_owner");
    let cancelled = app.call(Method::POST, &format!("/api/tasks/{id}/cancel"), Auth::Bearer(&alice), None).await;
    cancelled.assert_status(StatusCode::OK);
    assert_eq!(cancelled.json()["task"]["status"], "cancelled");
    app.call(Method::POST, &format!("/api/tasks/{id}/cancel"), Auth::Bearer(&alice), None)
        .await
        .assert_error(StatusCode::CONFLICT, "wrong_status");
    app.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(&op), None)
        .await
        .assert_error(StatusCode::CONFLICT, "wrong_status");

    let second = first_id(&submit(&app, &alice, json!({"command": "y"})).await);
    let rejected = app
        .call(Method::POST, &format!("/api/reject/{second}?reason=needs%20fewer%20GPUs"), Auth::Bearer(&op), None)
        .await;
    rejected.assert_status(StatusCode::OK);
    let task = &rejected.json()["task"];
    assert_eq!(task["status"], "rejected");
    assert_eq!(task["approval_status"], "rejected");
    assert_eq!(task["rejection_reason"], "needs fewer GPUs");
    assert_eq!(task["rejected_by_username"], "oper");
    assert_eq!(task["approved_by_username"], Value::Null, "rejection is recorded apart from approval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedulers_move_tasks_along_allowed_transitions_only() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let (scheduler, _) = app.create_token(&op, "scheduler").await;
    let id = first_id(&submit(&app, &alice, json!({"command": "x"})).await);
    let report = |status: &str| {
        let path = format!("/api/tasks/{id}/status");
        let body = json!({"status": status});
        let scheduler = scheduler.clone();
        let app = &app;
        async move { app.call(Method::POST, &path, Auth::Bearer(&scheduler), Some(&body)).await }
    };
    report("running").await.assert_error(StatusCode::CONFLICT, "invalid_transition");
    app.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    report("running").await.assert_status(StatusCode::OK);
    report("completed").await.assert_status(StatusCode::OK);
    report("running").await.assert_error(StatusCode::CONFLICT, "invalid_transition");
    report("exploded").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.call(
        Method::POST,
        &format!("/api/tasks/{id}/status"),
        Auth::Bearer(&alice),
        Some(&json!({"status": "failed"})),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    let audit = app.call(Method::GET, "/api/admin/audit?action=task.status", Auth::Bearer(&admin), None).await.json();
    assert_eq!(audit.as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_get_field_errors_and_filters_work() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let error = submit(&app, &alice, json!({"task_type": "batch", "required_gpus": [[0]]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> =
        error["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"task_type") && fields.contains(&"required_gpus"), "{fields:?}");
    submit(&app, &alice, json!({"command": 5}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    submit(&app, &alice, json!({"command": "a"})).await;
    submit(&app, &alice, json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).await;
    submit(&app, &op, json!({"command": "b", "targets": ["n1", "n2"]})).await;
    let get = |q: &str| {
        let path = format!("/api/tasks{q}");
        let op = op.clone();
        let app = &app;
        async move { app.call(Method::GET, &path, Auth::Bearer(&op), None).await.json() }
    };
    assert_eq!(get("").await.as_array().map(Vec::len), Some(4), "one task per target");
    assert_eq!(get("?task_type=vps").await.as_array().map(Vec::len), Some(1));
    assert_eq!(get("?owner=alice").await.as_array().map(Vec::len), Some(2));
    assert_eq!(get("?owner=alice&status=pending_approval&task_type=command").await.as_array().map(Vec::len), Some(1));
    assert_eq!(get("?owner=nobody").await, json!([]));
    assert_eq!(get("?status=assigning").await.as_array().map(Vec::len), Some(2));
    let paged = app.call(Method::GET, "/api/tasks?limit=3", Auth::Bearer(&op), None).await;
    let cursor = paged.header("x-next-cursor").expect("cursor").to_owned();
    let rest = get(&format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(rest.as_array().map(Vec::len), Some(1));
    app.call(Method::GET, "/api/tasks?status=nonsense", Auth::Bearer(&op), None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // A deleted owner's tasks stay, shown as deleted.
    let alice_id =
        app.call(Method::GET, "/api/auth/me", Auth::Bearer(&alice), None).await.json()["id"].as_u64().expect("id");
    app.call(Method::DELETE, &format!("/api/auth/users/{alice_id}"), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    let tasks = get("?task_type=command&status=pending_approval").await;
    assert_eq!(tasks[0]["owner_username"], "alice (deleted)");
    assert_eq!(tasks[0]["owner_deleted"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_filter_reads_a_bounded_slice_per_request_and_cursors_reach_the_rest() {
    use shared::audit::Outcome;
    use shared::auth::client::ClientInfo;
    use shared::tasks::{self, MAX_EXAMINED, Owner};
    use shared::tasks::{TaskStatus, TaskSubmission};

    let (app, [_, op, alice, _]) = team(&[]).await;
    // Alice's two tasks (waiting for approval) are the oldest...
    submit(&app, &alice, json!({"command": "mine"})).await.assert_status(StatusCode::ACCEPTED);
    submit(&app, &alice, json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"}))
        .await
        .assert_status(StatusCode::ACCEPTED);
    // ...under more newer tasks than one request may read, none of which matches.
    let filler = MAX_EXAMINED + 150;
    let client = ClientInfo { addr: "127.0.0.1".to_owned(), user_agent: String::new(), request_id: None };
    let targets: Vec<String> = (0..64).map(|i| format!("node{i}")).collect();
    let mut made = 0;
    while made < filler {
        let n = (filler - made).min(64);
        let submission: TaskSubmission =
            serde_json::from_value(json!({"command": "filler", "targets": targets[..n]})).expect("submission");
        let specs = submission.into_specs().expect("specs");
        let owner = Owner { id: None, username: "_system".to_owned() };
        tasks::create(
            &app.state.stores,
            specs,
            owner,
            TaskStatus::PendingApproval,
            None,
            |_| client.event(("_system".to_owned(), None), "task.submit", Outcome::Success),
            30,
        )
        .await
        .expect("filler");
        made += n;
    }
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&op), None).await.assert_status(StatusCode::OK);

    for (query, expected) in [("task_type=vps", 1), ("status=pending_approval&owner=alice", 2)] {
        let mut cursor: Option<String> = None;
        let mut rows = Vec::new();
        let mut requests = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/tasks?{query}&cursor={c}"),
                None => format!("/api/tasks?{query}"),
            };
            let before = app.state.stores.io.snapshot();
            let page = app.call(Method::GET, &path, Auth::Bearer(&op), None).await;
            let io = app.state.stores.io.snapshot() - before;
            page.assert_status(StatusCode::OK);
            requests += 1;
            // The owner's lookup, and a few doubling queries up to the cap
            // (100, 100, 200, 400, 200 items): never the whole partition.
            assert!(io.dynamo_calls <= 7, "{query}: {} DynamoDB calls in one request", io.dynamo_calls);
            let got = page.json();
            if requests == 1 {
                assert_eq!(got, json!([]), "{query}: the first {MAX_EXAMINED} read match nothing");
                assert!(page.header("x-next-cursor").is_some(), "{query}: a cursor although nothing matched");
            }
            rows.extend(got.as_array().expect("array").iter().cloned());
            cursor = page.header("x-next-cursor").map(str::to_owned);
            if cursor.is_none() {
                break;
            }
            assert!(requests < 5, "{query}: the cursors never end");
        }
        assert_eq!(rows.len(), expected, "{query}: {rows:?}");
        assert!(rows.iter().all(|t| t["owner_username"] == "alice"), "{rows:?}");
    }
}
