//! Approval: who submits decides the path, concurrent decisions, cancelling
//! and rejecting, and the pending-approval badge.

use super::*;
use axum::http::StatusCode;
use http::Method;
use krv_tests::{ADMIN_SECRET, Auth, TestApp, TestResponse, task_id};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_approvals_let_exactly_one_through() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let other = app.another_instance().await;
    let id = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "make"})).await);
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
        let id = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "make"})).await);
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
async fn who_submits_decides_the_path_and_operators_cannot_approve_their_own() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let own = app.submit(Auth::Bearer(&op), &json!({"command": "deploy"})).await;
    assert_eq!(own.json()["status"], "assigning");
    let task = app.call(Method::GET, &format!("/api/tasks/{}", task_id(&own)), Auth::Bearer(&op), None).await.json();
    assert_eq!(task["approved_by_username"], "oper", "operators approve their own submissions by submitting");
    let system =
        app.call(Method::POST, "/api/tasks", Auth::AdminSecret(ADMIN_SECRET), Some(&json!({"command": "x"}))).await;
    let task = app.call(Method::GET, &format!("/api/tasks/{}", task_id(&system)), Auth::Bearer(&op), None).await.json();
    assert_eq!((task["status"].as_str(), task["owner_username"].as_str()), (Some("assigning"), Some("_system")));

    // A user's pending task, whose owner is then promoted to operator: no self-approval.
    let pending = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "mine"})).await);
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
    app.submit(Auth::Bearer(&vic), &json!({"command": "x"})).await.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_cancel_while_pending_and_rejections_keep_their_reason() {
    let (app, [_, op, alice, bob]) = team(&[]).await;
    let id = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "x"})).await);
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

    let second = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "y"})).await);
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

async fn pending_count(app: &TestApp, token: &str) -> Value {
    app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(token), None).await.json()["count"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_matches_the_list_under_concurrent_submissions() {
    let (app, [_, op, alice, bob]) = team(&[]).await;
    let other = app.another_instance().await;
    let calls = (0..20).map(|i| {
        let (instance, token) = if i % 2 == 0 { (&app, alice.clone()) } else { (&other, bob.clone()) };
        async move { instance.submit(Auth::Bearer(&token), &json!({"command": format!("job {i}")})).await }
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
