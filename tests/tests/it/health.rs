//! The health group and the store-outage behaviour of readiness.

use std::time::{Duration, Instant};

use http::StatusCode;
use krv_tests::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_answers_without_touching_the_stores() {
    let app = TestApp::start().await;
    app.stack.lock().await.redis.stop();
    app.stack.lock().await.dynamo.stop().await;
    let response = app.get("/api/health").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json()["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_200_when_both_stores_answer() {
    let app = TestApp::start().await;
    let response = app.get("/api/health/ready").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json(), serde_json::json!({"status": "ready", "dynamodb": "ok", "redis": "ok"}));
}

/// Asserts readiness answers a JSON 503 naming `store` within two seconds.
async fn assert_not_ready_quickly(app: &TestApp, store: &str) {
    let started = Instant::now();
    let response = app.get("/api/health/ready").await;
    let took = started.elapsed();
    let body = response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(body["detail"], format!("Not ready: {store} is unreachable"));
    assert!(response.header("retry-after").is_some(), "503 without Retry-After");
    assert!(took < Duration::from_secs(2), "the 503 took {took:?}");
}

/// Polls readiness until it is 200 again (reconnection may take a moment).
async fn assert_ready_again(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.get("/api/health/ready").await;
        if response.status == StatusCode::OK {
            return;
        }
        assert!(Instant::now() < deadline, "still not ready: {}", String::from_utf8_lossy(&response.bytes));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_redis_going_down_and_coming_back() {
    let app = TestApp::start().await;
    app.get("/api/health/ready").await.assert_status(StatusCode::OK);

    app.stack.lock().await.redis.stop();
    assert_not_ready_quickly(&app, "Redis").await;
    // A second request while still down must not hang on a reconnect loop either.
    assert_not_ready_quickly(&app, "Redis").await;

    app.stack.lock().await.redis.restart().await.expect("redis restarts");
    assert_ready_again(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_dynamodb_going_down_and_coming_back() {
    let app = TestApp::start().await;
    app.get("/api/health/ready").await.assert_status(StatusCode::OK);

    app.stack.lock().await.dynamo.stop().await;
    assert_not_ready_quickly(&app, "DynamoDB").await;
    assert_not_ready_quickly(&app, "DynamoDB").await;

    app.stack.lock().await.dynamo.restart().await.expect("dynamodb restarts");
    assert_ready_again(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_both_stores_when_both_are_down() {
    let app = TestApp::start().await;
    {
        let mut stack = app.stack.lock().await;
        stack.redis.stop();
        stack.dynamo.stop().await;
    }
    let response = app.get("/api/health/ready").await;
    let body = response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(body["detail"], "Not ready: DynamoDB and Redis are unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_stores_is_ready_too() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    other.get("/api/health/ready").await.assert_status(StatusCode::OK);
    assert_eq!(app.state.stores.tables, other.state.stores.tables);
}
