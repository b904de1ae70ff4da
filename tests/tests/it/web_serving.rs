//! The local server serves the web panel's built files next to the API.

use http::{Method, StatusCode};
use krv_tests::{TestApp, TestRequest};

async fn fetch(router: &axum::Router, path: &str) -> (StatusCode, String) {
    let response = TestRequest::new(router, Method::GET, path).send().await;
    (response.status, response.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_at_the_root_the_panel_for_its_routes_and_json_for_unknown_api_paths() {
    let app = TestApp::start().await;
    let dist = tempfile::tempdir().expect("tempdir");
    std::fs::write(dist.path().join("index.html"), "<html>panel</html>").expect("write");
    std::fs::create_dir(dist.path().join("assets")).expect("mkdir");
    std::fs::write(dist.path().join("assets/app.js"), "console.log(1)").expect("write");
    let router = krv_server::with_web(TestApp::routes(), app.state.clone(), dist.path());

    assert_eq!(fetch(&router, "/").await, (StatusCode::OK, "<html>panel</html>".to_owned()));
    assert_eq!(fetch(&router, "/assets/app.js").await, (StatusCode::OK, "console.log(1)".to_owned()));
    assert_eq!(
        fetch(&router, "/admin/users").await,
        (StatusCode::OK, "<html>panel</html>".to_owned()),
        "panel routes get index.html with 200 (a 404 makes browsers log an error)"
    );
    let (status, body) = fetch(&router, "/api/no/such").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
    assert_eq!(fetch(&router, "/api/health").await.0, StatusCode::OK);
    // A path that merely starts with the letters "/api" is the panel's.
    assert_eq!(fetch(&router, "/apiary").await, (StatusCode::OK, "<html>panel</html>".to_owned()));
    // Files pass the same layers as the API: they carry a request id.
    let file = TestRequest::new(&router, Method::GET, "/assets/app.js").send().await;
    assert!(file.header("x-request-id").is_some_and(|id| !id.is_empty()), "static files get a request id");
}
