//! Failed-login throttling: progressive delay, lockout, per-address limit, all
//! held in Redis so they apply across instances.

use std::time::Duration;

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp, TestResponse};
use serde_json::json;

async fn attempt(app: &TestApp, name: &str, password: &str) -> TestResponse {
    let body = json!({"username": name, "password": password});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_answers_429_even_to_the_right_password_on_every_instance() {
    let app = TestApp::start_with(&[
        ("LOGIN_FREE_FAILURES", "100"),
        ("LOGIN_LOCKOUT_FAILURES", "3"),
        ("LOGIN_LOCKOUT_SECS", "60"),
    ])
    .await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    for instance in [&app, &other, &app] {
        attempt(instance, "admin", "wrong-password-1").await.assert_status(StatusCode::UNAUTHORIZED);
    }
    for instance in [&app, &other] {
        let response = attempt(instance, "admin", PASSWORD).await;
        response.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
        let retry: u64 = response.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After seconds");
        assert!((55..=60).contains(&retry), "Retry-After {retry}");
        assert!(response.session_cookie().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_usernames_are_throttled_the_same_way() {
    let app = TestApp::start_with(&[("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "60")]).await;
    for _ in 0..3 {
        attempt(&app, "nobody", "whatever-pass").await.assert_status(StatusCode::UNAUTHORIZED);
    }
    attempt(&app, "nobody", "whatever-pass").await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_failures_wait_a_doubling_delay_and_success_resets_it() {
    let app = TestApp::start_with(&[("LOGIN_FREE_FAILURES", "2"), ("LOGIN_BASE_DELAY_MS", "700")]).await;
    app.first_admin("admin").await;
    attempt(&app, "admin", "wrong-password-1").await.assert_status(StatusCode::UNAUTHORIZED);
    attempt(&app, "admin", "wrong-password-2").await.assert_status(StatusCode::UNAUTHORIZED);
    // Two failures: the account now waits 700 ms, right password or not.
    let throttled = attempt(&app, "admin", PASSWORD).await;
    throttled.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert_eq!(throttled.header("retry-after"), Some("1"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    attempt(&app, "admin", PASSWORD).await.assert_status(StatusCode::OK);
    // The success reset the counter: two more failures are needed before a wait.
    attempt(&app, "admin", "wrong-password-3").await.assert_status(StatusCode::UNAUTHORIZED);
    attempt(&app, "admin", PASSWORD).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_accounts_is_limited() {
    let app = TestApp::start_with(&[("LOGIN_ADDRESS_FAILURES", "3")]).await;
    app.first_admin("admin").await;
    let body = |name: &str, pw: &str| json!({"username": name, "password": pw});
    for name in ["u1x", "u2x", "u3x"] {
        app.call_from(Method::POST, "/api/auth/login", Auth::None, Some(&body(name, "nope-nope-1")), "203.0.113.9")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    app.call_from(Method::POST, "/api/auth/login", Auth::None, Some(&body("admin", PASSWORD)), "203.0.113.9")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    // Another address is unaffected.
    app.call_from(Method::POST, "/api/auth/login", Auth::None, Some(&body("admin", PASSWORD)), "198.51.100.4")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_attempts_are_audited() {
    let app = TestApp::start_with(&[("LOGIN_LOCKOUT_FAILURES", "1"), ("LOGIN_LOCKOUT_SECS", "60")]).await;
    attempt(&app, "ivan", "nope-nope-1").await.assert_status(StatusCode::UNAUTHORIZED);
    attempt(&app, "ivan", "nope-nope-2").await.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let out = app.state.stores.dynamo.scan().table_name(&app.state.stores.tables.audit).send().await.expect("scan");
    let throttled = out
        .items()
        .iter()
        .filter(|i| i.get("outcome").and_then(|v| v.as_s().ok()).is_some_and(|s| s == "throttled"))
        .count();
    assert_eq!(throttled, 1);
}

/// The throttle lives only in Redis. A Redis restart that loses its data (no
/// persistence, as the test Redis runs) forgets every counter and lockout: the
/// locked account logs in again at once. While Redis is down a login answers
/// 503 with `Retry-After` (it cannot be judged), never 500, and the throttle
/// counts again from zero afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_that_loses_its_data_resets_the_throttle() {
    let app = TestApp::start_with(&[
        ("LOGIN_FREE_FAILURES", "100"),
        ("LOGIN_LOCKOUT_FAILURES", "3"),
        ("LOGIN_LOCKOUT_SECS", "600"),
    ])
    .await;
    app.first_admin("admin").await;
    for _ in 0..3 {
        attempt(&app, "admin", "wrong-password-1").await.assert_status(StatusCode::UNAUTHORIZED);
    }
    attempt(&app, "admin", PASSWORD).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");

    app.stack.lock().await.redis.stop();
    for password in [PASSWORD, "wrong-password-2"] {
        let started = std::time::Instant::now();
        let response = attempt(&app, "admin", password).await;
        response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
        assert!(response.header("retry-after").is_some(), "a 503 without Retry-After");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a login took {:?} while Redis was down",
            started.elapsed()
        );
    }

    app.stack.lock().await.redis.restart().await.expect("redis restarts, empty");
    // The connection comes back by itself; until it has, a login may still
    // answer 503, but nothing else than that or the success.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = attempt(&app, "admin", PASSWORD).await;
        if response.status == StatusCode::OK {
            assert!(response.session_cookie().is_some(), "a login without its session");
            break;
        }
        response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
        assert!(std::time::Instant::now() < deadline, "no successful login within 10 s of the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Counted from zero again: a fresh lockout takes the full three failures.
    for _ in 0..3 {
        attempt(&app, "admin", "wrong-password-3").await.assert_status(StatusCode::UNAUTHORIZED);
    }
    attempt(&app, "admin", PASSWORD).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}
