//! The Lambda path: the real Lambda binaries, run under a Runtime API emulator
//! with committed API Gateway HTTP API (v2) events, answer like the local server.

use std::path::PathBuf;

use http::StatusCode;
use krv_tests::TestApp;
use krv_tests::bins::binary;
use krv_tests::lambda::LambdaRuntime;
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/apigw-v2").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The same event for another method and path.
fn event_for(method: &str, path: &str) -> Value {
    let mut event = fixture("health-ready.json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["routeKey"] = json!("$default");
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("x-request-id");
    }
    event
}

/// A runtime emulator running the Lambda binary `bin` against `app`'s stores.
async fn lambda_for(app: &TestApp, bin: &str) -> LambdaRuntime {
    let config = &app.state.config;
    let stack = app.stack.lock().await;
    let mut runtime = LambdaRuntime::start().await.expect("emulator starts");
    let endpoint = stack.dynamo.endpoint();
    let redis = stack.redis.url();
    let key = uuid::Uuid::new_v4().simple().to_string();
    runtime
        .spawn_function(
            &binary(bin),
            &[
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("REDIS_URL", redis.as_str()),
                ("TABLE_PREFIX", config.stores.table_prefix.as_str()),
                ("SESSION_SIGNING_KEY", key.as_str()),
                ("RUST_LOG", "warn"),
            ],
        )
        .expect("function starts");
    runtime
}

/// The API Gateway v2 response's status, headers and body (as JSON).
fn parse_response(outcome: Value) -> (u16, Value, Value) {
    let status = outcome["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).expect("statusCode");
    let body = outcome["body"].as_str().map(|b| serde_json::from_str(b).expect("body is JSON")).unwrap_or(Value::Null);
    (status, outcome["headers"].clone(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_lambda_answers_the_committed_fixtures() {
    let app = TestApp::start().await;
    let runtime = lambda_for(&app, "krv-health").await;

    let outcome = runtime.invoke(fixture("health-ready.json")).await.expect("invocation succeeds");
    let (status, headers, body) = parse_response(outcome);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"status": "ready", "dynamodb": "ok", "redis": "ok"}));
    assert_eq!(headers["x-request-id"], "fixture-request-1");

    let outcome = runtime.invoke(fixture("health-live.json")).await.expect("invocation succeeds");
    let (status, _, body) = parse_response(outcome);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_lambda_serves_exactly_the_routes_the_local_server_gives_it() {
    let app = TestApp::start().await;
    let runtime = lambda_for(&app, "krv-health").await;
    let routes = TestApp::routes();
    let health: Vec<_> = routes.list().iter().filter(|r| r.group == "health").collect();
    assert!(!health.is_empty(), "the local server lists no health route");
    for route in health {
        let local = app
            .send(
                http::Request::builder()
                    .method(route.method.clone())
                    .uri(route.path)
                    .body(axum::body::Body::empty())
                    .expect("req"),
            )
            .await;
        let outcome = runtime.invoke(event_for(route.method.as_str(), route.path)).await.expect("invocation succeeds");
        let (status, _, body) = parse_response(outcome);
        assert_eq!(status, local.status.as_u16(), "{} {}: Lambda {body} vs local", route.method, route.path);
        assert_eq!(body, local.json(), "{} {}", route.method, route.path);
    }

    // A route of another group is not served by this function, in the shared error shape.
    let outcome = runtime.invoke(event_for("GET", "/api/auth/status")).await.expect("invocation succeeds");
    let (status, _, body) = parse_response(outcome);
    assert_eq!(status, StatusCode::NOT_FOUND.as_u16());
    assert_eq!(body["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_answers_503_when_redis_is_down() {
    let app = TestApp::start().await;
    let runtime = lambda_for(&app, "krv-health").await;
    app.stack.lock().await.redis.stop();
    let outcome = runtime.invoke(fixture("health-ready.json")).await.expect("invocation succeeds");
    let (status, headers, body) = parse_response(outcome);
    assert_eq!(status, 503);
    assert_eq!(body["detail"], "Not ready: Redis is unreachable");
    assert_eq!(headers["retry-after"], "1");
}
