//! HTTPS with a certificate and key, and the one-line refusals of unusable TLS settings.

use super::*;
use krv_tests::RedisServer;
use krv_tests::server_process::{SIGNING_KEY as KEY, ServerProcess as Server};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");

    let redis = RedisServer::start().await.expect("redis");
    let (cert_path, key_path) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let mut server = Server::spawn(dir.path(), &redis, &[("TLS_CERT_FILE", cert_path), ("TLS_KEY_FILE", key_path)]);
    let trusted = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("certificate")])
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    server.wait_ready_with(&trusted, READY_WITHIN).await;

    let response = trusted.get(server.url("/api/health/ready")).send().await.expect("https request");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    // Handlers still see the peer address behind TLS: a login is throttled per
    // client address and answers normally.
    let login = trusted
        .post(server.url("/api/auth/login"))
        .json(&json!({"username": "nobody", "password": "wrong-password"}))
        .send()
        .await
        .expect("login over https");
    assert_eq!(login.status(), reqwest::StatusCode::UNAUTHORIZED);

    let plain = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    match plain.get(server.url_with_scheme("http", "/api/health/ready")).send().await {
        Err(_) => {}
        Ok(response) => assert!(!response.status().is_success(), "plain http must not be served: {response:?}"),
    }

    server.terminate();
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

#[test]
fn tls_needs_both_files_and_readable_pem() {
    let (code, stderr) = run(&[], &[("SESSION_SIGNING_KEY", KEY), ("TLS_CERT_FILE", "/etc/kohakuriver/cert.pem")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("invalid configuration: TLS_KEY_FILE:"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let not_pem = dir.path().join("cert.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").expect("write");
    let not_pem = not_pem.to_str().expect("utf-8");
    let (code, stderr) = run(
        &[],
        &[
            ("SESSION_SIGNING_KEY", KEY),
            ("DYNAMODB_DATA_PATH", ":memory:"),
            ("TLS_CERT_FILE", not_pem),
            ("TLS_KEY_FILE", not_pem),
        ],
    );
    assert_eq!(code, Some(1), "an unusable TLS file stops the server with exit status 1: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("TLS_CERT_FILE"), "{stderr}");
}
