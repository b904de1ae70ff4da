//! Redis over TLS (`rediss://`): ElastiCache with transit encryption, or a
//! self-hosted Redis behind a private CA named by `REDIS_CA_FILE`. The server
//! here is a real `redis-server` listening only on a TLS port.

use std::path::Path;

use http::{Method, StatusCode};
use krv_tests::{Auth, RedisServer, TestApp};
use shared::config::Config;
use shared::env::Env;

/// A self-signed certificate for 127.0.0.1, written as `cert.pem` and `key.pem`.
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("self-signed certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    (cert, key)
}

#[tokio::test]
async fn sessions_work_over_tls_with_a_private_ca_and_an_untrusted_server_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let redis = RedisServer::start_tls(dir.path(), &cert, &key).await.expect("TLS redis-server starts");
    let url = redis.url();
    let ca = cert.to_str().expect("utf-8");

    let app = TestApp::builder().envs(&[("REDIS_URL", &url), ("REDIS_CA_FILE", ca)]).build().await;
    app.get("/api/health/ready").await.assert_status(StatusCode::OK);
    app.first_admin("root").await;
    let session = app.login("root").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&session), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["username"], "root");

    // Without the CA the certificate cannot be verified: Redis is unavailable
    // (503), never silently reached over an unverified connection.
    let untrusting = TestApp::builder().envs(&[("REDIS_URL", &url)]).build().await;
    untrusting.get("/api/health/ready").await.assert_status(StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn a_ca_file_needs_a_tls_url_and_a_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = certificate(dir.path());
    let settings = |url: &str, ca: &Path| {
        let env = Env::from_map([
            ("REDIS_URL", url),
            ("REDIS_CA_FILE", ca.to_str().expect("utf-8")),
            ("SESSION_SIGNING_KEY", "0123456789abcdef0123456789abcdef"),
        ]);
        Config::from(&env).map(|_| ()).map_err(|e| e.to_string())
    };
    assert!(settings("rediss://cache.example:6379", &cert).is_ok());
    let plain = settings("redis://cache.example:6379", &cert).expect_err("plain URL refused");
    assert!(plain.contains("REDIS_CA_FILE") && plain.contains("rediss://"), "{plain}");
    let not_pem = settings("rediss://cache.example:6379", &key).expect_err("a key is not a certificate");
    assert!(not_pem.contains("no PEM certificate"), "{not_pem}");
    let missing = settings("rediss://cache.example:6379", &dir.path().join("nope.pem")).expect_err("missing file");
    assert!(missing.contains("cannot read"), "{missing}");
}
