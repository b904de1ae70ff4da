//! Failed-login throttling: progressive delay, lockout, per-address limit, all
//! held in Redis so they apply across instances.

use std::time::Duration;

use http::StatusCode;
use krv_tests::{PASSWORD, TestApp};

/// The client address of the attempts that do not choose one.
const HERE: &str = "127.0.0.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_answers_429_even_to_the_right_password_on_every_instance() {
    let app = TestApp::builder()
        .envs(&[("LOGIN_FREE_FAILURES", "100"), ("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "60")])
        .build()
        .await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    for instance in [&app, &other, &app] {
        instance.login_attempt("admin", "wrong-password-1", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    }
    for instance in [&app, &other] {
        let response = instance.login_attempt("admin", PASSWORD, HERE).await;
        response.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
        let retry: u64 = response.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After seconds");
        assert!((55..=60).contains(&retry), "Retry-After {retry}");
        assert!(response.session_cookie().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_usernames_are_throttled_the_same_way() {
    let app = TestApp::builder().envs(&[("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "60")]).build().await;
    for _ in 0..3 {
        app.login_attempt("nobody", "whatever-pass", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    }
    app.login_attempt("nobody", "whatever-pass", HERE)
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_failures_wait_a_doubling_delay_and_success_resets_it() {
    let app = TestApp::builder().envs(&[("LOGIN_FREE_FAILURES", "2"), ("LOGIN_BASE_DELAY_MS", "700")]).build().await;
    app.first_admin("admin").await;
    app.login_attempt("admin", "wrong-password-1", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    app.login_attempt("admin", "wrong-password-2", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    // Two failures: the account now waits 700 ms, right password or not.
    let throttled = app.login_attempt("admin", PASSWORD, HERE).await;
    throttled.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert_eq!(throttled.header("retry-after"), Some("1"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.login_attempt("admin", PASSWORD, HERE).await.assert_status(StatusCode::OK);
    // The success reset the counter: two more failures are needed before a wait.
    app.login_attempt("admin", "wrong-password-3", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    app.login_attempt("admin", PASSWORD, HERE).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_accounts_is_limited() {
    let app = TestApp::builder().envs(&[("LOGIN_ADDRESS_FAILURES", "3")]).build().await;
    app.first_admin("admin").await;
    for name in ["u1x", "u2x", "u3x"] {
        app.login_attempt(name, "nope-nope-1", "203.0.113.9").await.assert_status(StatusCode::UNAUTHORIZED);
    }
    app.login_attempt("admin", PASSWORD, "203.0.113.9")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    // Another address is unaffected.
    app.login_attempt("admin", PASSWORD, "198.51.100.4").await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_attempts_are_audited() {
    let app = TestApp::builder().envs(&[("LOGIN_LOCKOUT_FAILURES", "1"), ("LOGIN_LOCKOUT_SECS", "60")]).build().await;
    app.login_attempt("ivan", "nope-nope-1", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    app.login_attempt("ivan", "nope-nope-2", HERE).await.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let throttled = app
        .scan(&app.state.stores.tables.audit)
        .await
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
    let app = TestApp::builder()
        .envs(&[("LOGIN_FREE_FAILURES", "100"), ("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "600")])
        .build()
        .await;
    app.first_admin("admin").await;
    for _ in 0..3 {
        app.login_attempt("admin", "wrong-password-1", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    }
    app.login_attempt("admin", PASSWORD, HERE).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");

    app.stack.lock().await.redis.stop();
    for password in [PASSWORD, "wrong-password-2"] {
        let started = std::time::Instant::now();
        let response = app.login_attempt("admin", password, HERE).await;
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
        let response = app.login_attempt("admin", PASSWORD, HERE).await;
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
        app.login_attempt("admin", "wrong-password-3", HERE).await.assert_status(StatusCode::UNAUTHORIZED);
    }
    app.login_attempt("admin", PASSWORD, HERE).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}
