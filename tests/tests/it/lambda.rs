//! The Lambda path: the real Lambda binaries, run under a Runtime API emulator
//! with committed API Gateway HTTP API (v2) events, answer like the local server.

use std::path::PathBuf;

use http::StatusCode;
use krv_tests::TestApp;
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

/// Every endpoint group and its Lambda binary.
const FUNCTIONS: &[(&str, &str)] = &[
    ("health", "krv-health"),
    ("auth", "krv-auth"),
    ("tokens", "krv-tokens"),
    ("users", "krv-users"),
    ("invitations", "krv-invitations"),
    ("groups", "krv-groups"),
    ("tasks", "krv-tasks"),
    ("vps", "krv-vps"),
    ("admin", "krv-admin"),
];

async fn lambda_for(app: &TestApp, bin: &str) -> LambdaRuntime {
    LambdaRuntime::for_app(app, bin, &[]).await
}

/// The API Gateway v2 response's status, headers and body (as JSON).
fn parse_response(outcome: Value) -> (u16, Value, Value) {
    let status = outcome["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).expect("statusCode");
    // A redirect (the SSO routes) has an empty body.
    let body = outcome["body"]
        .as_str()
        .filter(|b| !b.is_empty())
        .map(|b| serde_json::from_str(b).expect("body is JSON"))
        .unwrap_or(Value::Null);
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

/// A concrete path for a route pattern (`{id}` → `x`).
fn concrete(path: &str) -> String {
    path.split('/').map(|segment| if segment.starts_with('{') { "x" } else { segment }).collect::<Vec<_>>().join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_group_has_a_lambda_that_answers_its_routes_exactly_like_the_local_server() {
    let routes = TestApp::routes();
    for route in routes.list() {
        assert!(
            FUNCTIONS.iter().any(|(group, _)| *group == route.group),
            "group {} has no Lambda binary in FUNCTIONS",
            route.group
        );
    }
    for (group, bin) in FUNCTIONS {
        let app = TestApp::start().await;
        let runtime = lambda_for(&app, bin).await;
        let mine: Vec<_> = routes.list().iter().filter(|r| r.group == *group).collect();
        assert!(!mine.is_empty(), "the local server lists no {group} route");
        for route in mine {
            let path = concrete(route.path);
            let local = app.request(route.method.clone(), &path).send().await;
            let outcome = runtime.invoke(event_for(route.method.as_str(), &path)).await.expect("invocation succeeds");
            let (status, _, body) = parse_response(outcome);
            assert_ne!(body["detail"], "No such endpoint", "{bin} does not serve {} {}", route.method, route.path);
            assert_eq!(status, local.status.as_u16(), "{} {}: Lambda {body} vs local", route.method, route.path);
            let local_body = if local.bytes.is_empty() { Value::Null } else { local.json() };
            assert_eq!(body, local_body, "{} {}", route.method, route.path);
        }
        // Another group's route is not served by this function, in the shared error shape.
        let foreign = routes.list().iter().find(|r| r.group != *group && !r.path.contains('{')).expect("another group");
        let outcome = runtime.invoke(event_for(foreign.method.as_str(), foreign.path)).await.expect("invocation");
        let (status, _, body) = parse_response(outcome);
        assert_eq!(status, StatusCode::NOT_FOUND.as_u16(), "{bin} answers {} {}", foreign.method, foreign.path);
        assert_eq!(body["code"], "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_lambda_logs_in_from_the_committed_fixture_and_its_cookie_works_locally() {
    let app = TestApp::start().await;
    app.first_admin("admin").await;
    let runtime = lambda_for(&app, "krv-auth").await;
    let outcome = runtime.invoke(fixture("auth-login.json")).await.expect("invocation succeeds");
    let (status, _, body) = parse_response(outcome.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "admin");
    // API Gateway v2 carries Set-Cookie in `cookies`.
    let cookie = outcome["cookies"]
        .as_array()
        .and_then(|c| c.iter().filter_map(|v| v.as_str()).find(|c| c.starts_with("kohakuriver_session=")))
        .expect("session cookie")
        .to_owned();
    let token = cookie.trim_start_matches("kohakuriver_session=").split(';').next().expect("value").to_owned();
    // The session made by the Lambda is valid on the local server (shared stores).
    let me = app.call(http::Method::GET, "/api/auth/me", krv_tests::Auth::Cookie(&token), None).await;
    me.assert_status(StatusCode::OK);
    // The audit event recorded API Gateway's source address.
    let audit = app.scan(&app.state.stores.tables.audit).await;
    let login = audit
        .iter()
        .find(|i| {
            i.get("action").and_then(|v| v.as_s().ok()).is_some_and(|a| a == "auth.login")
                && i.get("outcome").and_then(|v| v.as_s().ok()).is_some_and(|o| o == "success")
        })
        .expect("login audited");
    assert_eq!(login.get("client").and_then(|v| v.as_s().ok()).map(String::as_str), Some("203.0.113.7"));
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
