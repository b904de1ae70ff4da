//! The OpenAPI document: the committed `docs/openapi.json` is what the code
//! generates, it describes exactly the routes the server serves, and the API
//! serves it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use http::StatusCode;
use krv_tests::TestApp;
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn committed() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `(METHOD, path)` of every operation in a document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(move |m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = krv_server::openapi::json().expect("the document serializes");
    assert!(
        committed() == generated,
        "docs/openapi.json is stale: regenerate it with `make openapi` \
         (cargo run -q -p krv-server -- openapi > docs/openapi.json) and commit it"
    );
}

#[test]
fn the_document_describes_exactly_the_served_routes() {
    let document: Value = serde_json::from_str(&committed()).expect("docs/openapi.json is JSON");
    let documented = operations(&document);
    let served: BTreeSet<(String, String)> =
        TestApp::routes().list().iter().map(|r| (r.method.to_string(), r.path.to_owned())).collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but missing from the document: {undocumented:?}");
    assert!(not_served.is_empty(), "in the document but not served: {not_served:?}");
}

#[test]
fn every_operation_documents_a_success_and_its_errors_use_the_error_body() {
    let document = krv_server::openapi::document();
    let value = serde_json::to_value(&document).expect("the document serializes");
    assert_eq!(value["openapi"], "3.1.0");
    for (method, path) in operations(&value) {
        let responses = value["paths"][&path][method.to_ascii_lowercase()]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} has no responses"));
        // A success, or for the browser endpoints of single sign-on a redirect.
        let answers = |s: &String| s.starts_with('2') || s.starts_with('3');
        assert!(responses.keys().any(answers), "{method} {path} documents no success");
        for (status, response) in responses.iter().filter(|(s, _)| !answers(s)) {
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
    }
}

/// The answers the shared extractors and layers add (shared::http::openapi::finish).
#[test]
fn the_pipeline_answers_follow_what_each_operation_declares() {
    let value = serde_json::to_value(krv_server::openapi::document()).expect("the document serializes");
    let store_free = [("GET", "/api/health"), ("GET", "/api/auth/status"), ("GET", "/api/openapi.json")];
    for (method, path) in operations(&value) {
        let operation = &value["paths"][&path][method.to_ascii_lowercase()];
        let responses = &operation["responses"];
        let has = |status: &str| responses.get(status).is_some();
        let name = format!("{method} {path}");
        if store_free.contains(&(method.as_str(), path.as_str())) {
            assert!(!has("401") && !has("503"), "{name} reads no credentials and no store");
        } else {
            assert!(has("503"), "{name} touches a store but has no 503");
        }
        // Only `security: [{}]` marks an operation that reads no credentials.
        let anonymous_only = operation["security"] == json!([{}]);
        if !anonymous_only {
            assert!(has("401"), "{name} reads credentials but has no 401");
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(has(status), "{name} has a body but no {status}");
            }
        }
        let params = operation["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "path") {
            assert!(has("404"), "{name} has a path id but no 404");
        }
        if params.iter().any(|p| p["in"] == "query") {
            assert!(has("422"), "{name} has a query but no 422");
        }
        for (status, header) in [("401", "WWW-Authenticate"), ("429", "Retry-After"), ("503", "Retry-After")] {
            if has(status) {
                assert!(responses[status]["headers"].get(header).is_some(), "{name} {status} without {header}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_the_committed_document() {
    let app = TestApp::start().await;
    let response = app.get("/api/openapi.json").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.bytes, committed().as_bytes(), "served bytes differ from docs/openapi.json");
}
