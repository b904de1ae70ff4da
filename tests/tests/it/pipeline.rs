//! The request pipeline every group shares: request ids, error shapes for
//! unknown routes and bad bodies, the body limit.

use http::{Method, StatusCode};
use krv_tests::{TestApp, TestRequest, TestResponse};
use serde::Deserialize;
use serde_json::json;
use shared::http::extract::Json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id_and_a_good_one_is_echoed() {
    let app = TestApp::start().await;
    let generated = app.get("/api/health").await;
    let id = generated.header("x-request-id").expect("x-request-id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "generated id {id:?} is not a UUID");

    let echoed = app.request(Method::GET, "/api/health").header("x-request-id", "client-chosen-42").send().await;
    assert_eq!(echoed.header("x-request-id"), Some("client-chosen-42"));

    let replaced = app.request(Method::GET, "/api/health").header("x-request-id", "evil id\twith tab").send().await;
    let id = replaced.header("x-request-id").expect("x-request-id");
    assert_ne!(id, "evil id\twith tab");
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestApp::start().await;
    app.get("/api/no/such/thing").await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let response = app.json(Method::DELETE, "/api/health", &json!({})).await;
    response.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(response.header("x-request-id").is_some());
}

#[derive(Deserialize)]
struct Echo {
    name: String,
    #[serde(default)]
    count: u8,
}

/// The shared layers around a probe route that parses a JSON body.
async fn probe_app() -> (TestApp, axum::Router) {
    let app = TestApp::start().await;
    let router = shared::Routes::group("probe")
        .post(
            "/api/probe",
            |Json(body): Json<Echo>| async move { Json(json!({"name": body.name, "count": body.count})) },
        )
        .into_router(app.state.clone());
    (app, router)
}

async fn post_raw(router: &axum::Router, content_type: &str, body: Vec<u8>) -> TestResponse {
    TestRequest::new(router, Method::POST, "/api/probe").body(content_type, body).send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_the_common_error_shape() {
    let (_app, router) = probe_app().await;

    let ok = post_raw(&router, "application/json", br#"{"name":"a","count":3}"#.to_vec()).await;
    ok.assert_status(StatusCode::OK);
    assert_eq!(ok.json(), json!({"name": "a", "count": 3}));

    post_raw(&router, "application/json", b"{not json".to_vec())
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_json");

    let body = post_raw(&router, "application/json", br#"{"name":"a","count":300}"#.to_vec())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "count", "{body}");

    let body = post_raw(&router, "application/json", br#"{"count":1}"#.to_vec())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("name")), "{body}");

    post_raw(&router, "text/plain", br#"{"name":"a"}"#.to_vec())
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64_kib_are_refused_with_413() {
    let (_app, router) = probe_app().await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(64 * 1024));
    post_raw(&router, "application/json", big.into_bytes())
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let fits = format!(r#"{{"name":"{}"}}"#, "x".repeat(60 * 1024));
    post_raw(&router, "application/json", fits.into_bytes()).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_a_json_500_not_a_dropped_connection() {
    let app = TestApp::start().await;
    let router = shared::Routes::group("probe")
        .get("/api/boom", || async {
            // A bug on purpose: it must not take the process or the connection down.
            let missing: Option<u8> = std::hint::black_box(None);
            Json(missing.expect("deliberate panic"))
        })
        .into_router(app.state.clone());
    let response = TestRequest::new(&router, Method::GET, "/api/boom").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.json(), json!({"detail": "Internal server error", "code": "internal_error"}));
}
