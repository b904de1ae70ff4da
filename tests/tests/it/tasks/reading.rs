//! What each role reads of a task, lists and their filters, submissions
//! refused field by field, and the schedulers' transitions.

use super::*;
use axum::http::StatusCode;
use http::Method;
use krv_tests::{Auth, task_id};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_each_role_may_read_of_a_task() {
    let (app, [admin, op, alice, bob]) = team(&[]).await;
    app.create_user(&admin, "vic", "viewer").await;
    let vic = app.login("vic").await;
    let body = json!({"command": "train --token abc", "arguments": ["--x"], "env_vars": {"SECRET": "v"}, "ip_reservation_token": "ipr"});
    let id = task_id(&app.submit(Auth::Bearer(&alice), &body).await);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedulers_move_tasks_along_allowed_transitions_only() {
    let (app, [admin, op, alice, _]) = team(&[]).await;
    let (scheduler, _) = app.create_token(&op, "scheduler").await;
    let id = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "x"})).await);
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
    let error = app
        .submit(Auth::Bearer(&alice), &json!({"task_type": "batch", "required_gpus": [[0]]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> =
        error["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"task_type") && fields.contains(&"required_gpus"), "{fields:?}");
    app.submit(Auth::Bearer(&alice), &json!({"command": 5}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    app.submit(Auth::Bearer(&alice), &json!({"command": "a"})).await;
    app.submit(Auth::Bearer(&alice), &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).await;
    app.submit(Auth::Bearer(&op), &json!({"command": "b", "targets": ["n1", "n2"]})).await;
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
    app.submit(Auth::Bearer(&alice), &json!({"command": "mine"})).await.assert_status(StatusCode::ACCEPTED);
    app.submit(Auth::Bearer(&alice), &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"}))
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
        let new = tasks::NewTasks { specs, owner, group_id: None, status: TaskStatus::PendingApproval, approved: None };
        tasks::create(&app.state.stores, new, &shared::quotas::Snapshot::default(), |_| {
            vec![client.event(("_system".to_owned(), None), "task.submit", Outcome::Success)]
        })
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
