//! Bugs that fuzzing the API against its OpenAPI document (scripts/fuzz-api)
//! found, each pinned by the request that showed it.

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use serde_json::{Value, json};

/// An app with an admin and a task of user "alice" waiting for approval.
async fn pending_task() -> (TestApp, String, String) {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let alice = app.with_user("alice", "user").await;
    let id = app.submit_task(alice.auth(), &json!({"command": "x"})).await;
    (app, admin.token, id)
}

/// A rejection's body is optional; the JSON `null` is no body, not "invalid JSON".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_with_a_null_body_takes_the_reason_from_the_query() {
    let (app, admin, id) = pending_task().await;
    let path = format!("/api/reject/{id}?reason=too%20big");
    let rejected = app.call(Method::POST, &path, Auth::Bearer(&admin), Some(&Value::Null)).await;
    rejected.assert_status(StatusCode::OK);
    assert_eq!(rejected.json()["reason"], "too big");
}

/// Well-formed JSON of the wrong shape is a 422 naming the field, as for every
/// other body; only text that is not JSON is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_body_of_the_wrong_shape_is_a_422_and_broken_json_a_400() {
    let (app, admin, id) = pending_task().await;
    let path = format!("/api/reject/{id}");
    let body = app.call(Method::POST, &path, Auth::Bearer(&admin), Some(&json!({"reason": 5}))).await;
    let body = body.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "reason");

    let broken = app.request(Method::POST, &path).bearer(&admin).body("application/json", "{\"reason\": ");
    broken.send().await.assert_error(StatusCode::BAD_REQUEST, "invalid_json");

    // Neither refusal decided the task.
    let task = app.call(Method::GET, &format!("/api/tasks/{id}"), Auth::Bearer(&admin), None).await;
    assert_eq!(task.json()["status"], "pending_approval");
}

/// Audit time ranges far outside the retention: before 1970 the sort keys went
/// negative (a DynamoDB validation error, answered 500), and a range of
/// centuries meant one query per month. Now clamped to what can exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_ranges_of_any_century_are_clamped_to_what_can_exist_and_never_500() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let get = |query: &str| {
        let (app, admin, path) = (&app, admin.clone(), format!("/api/admin/audit?{query}"));
        async move { app.call(Method::GET, &path, Auth::Bearer(&admin), None).await }
    };
    let ancient = get("since=1111-01-01T00:00:00Z&until=1112-01-01T00:00:00Z").await;
    ancient.assert_status(StatusCode::OK);
    assert_eq!(ancient.json(), json!([]));

    let before = app.state.stores.io.snapshot();
    let everything = get("since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z").await;
    let io = app.state.stores.io.snapshot() - before;
    everything.assert_status(StatusCode::OK);
    let body = everything.json();
    let actions: Vec<&str> = body.as_array().expect("array").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"user.register"), "recent events are found: {actions:?}");
    // Ten thousand years would be 120,000 monthly queries; the retention
    // (365 days by default) bounds it to a few more than twelve.
    assert!(io.dynamo_calls <= 20, "{} DynamoDB calls", io.dynamo_calls);
}
