//! Announcing approved tasks: the signed webhook, its retries by the
//! `krv-tasks-retry` Lambda binary, and the retry pass past the first page.

use super::*;
use axum::http::StatusCode;
use http::Method;
use krv_tests::lambda::LambdaRuntime;
use krv_tests::{Auth, TestApp, task_id};
use serde_json::{Value, json};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_sequence_ends_with_a_signed_webhook() {
    let (receiver, url) = Receiver::start().await;
    let (app, [_, op, alice, _]) =
        team(&[("DISPATCH_WEBHOOK_URL", &url), ("DISPATCH_WEBHOOK_SECRET", WEBHOOK_SECRET)]).await;

    let submitted = app
        .submit(
            Auth::Bearer(&alice),
            &json!({"command": "python train.py", "arguments": ["--epochs", "3"], "env_vars": {"WANDB_KEY": "s3cret"},
               "required_cores": 4, "targets": ["node1"], "required_gpus": [[0]], "privileged": true,
               "additional_mounts": ["/data:/data"]}),
        )
        .await;
    submitted.assert_status(StatusCode::ACCEPTED);
    let id = task_id(&submitted);
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
    let id = task_id(&app.submit(Auth::Bearer(&alice), &json!({"command": "make"})).await);
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
        last = task_id(&app.submit(Auth::Bearer(&op), &json!({"command": format!("job {i}")})).await);
    }
    assert_eq!(receiver.deliveries().len(), 150);
    make_announcement_due(&app, &last).await;
    assert_eq!(krv_tasks::retry_dispatch(&app.state).await.expect("retry"), 1, "the newest task is on page two");
    assert_eq!(receiver.verify(150)["task"]["task_id"], last.as_str());
}
