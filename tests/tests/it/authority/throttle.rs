//! Throttling counts an attempt before checking it.

use super::*;
use futures::future::join_all;
use http::{Method, StatusCode};
use krv_tests::{PASSWORD, SYSTEM, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_checks_no_more_than_the_free_failures_and_the_right_one_then_waits() {
    // A hash that takes a moment, as in production, so a burst is truly concurrent.
    let app = TestApp::builder().envs(&[("ARGON2_MEMORY_KIB", "4096")]).build().await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    let burst = (0..30).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        async move { instance.login_attempt("admin", &format!("wrong-password-{i}"), "10.0.0.1").await }
    });
    let answers = join_all(burst).await;
    let checked = count(&answers, StatusCode::UNAUTHORIZED);
    assert_eq!(checked + count(&answers, StatusCode::TOO_MANY_REQUESTS), 30, "only 401s and 429s");
    assert!((1..=5).contains(&checked), "{checked} passwords were checked; the limit is 5 consecutive failures");
    // The right password right after the burst is refused: the account waits.
    app.login_attempt("admin", PASSWORD, "10.0.0.2")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_password_inside_a_burst_never_lets_the_whole_burst_be_checked() {
    let app = TestApp::builder().envs(&[("ARGON2_MEMORY_KIB", "4096")]).build().await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    for trial in 0..5 {
        app.call(Method::POST, "/api/auth/users/1/unlock", SYSTEM, None).await.assert_status(StatusCode::OK);
        let burst = (0..30).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &other };
            let password = if i == 15 { PASSWORD.to_owned() } else { format!("wrong-password-{i}") };
            async move { instance.login_attempt("admin", &password, "10.0.0.1").await }
        });
        let answers = join_all(burst).await;
        let ok = count(&answers, StatusCode::OK);
        let failed = count(&answers, StatusCode::UNAUTHORIZED);
        // Serially: at most 5 failures, the success (which resets the count), 5 more.
        assert!(failed <= 10 && ok + failed <= 11, "trial {trial}: {ok} successes and {failed} failures checked");
        assert_eq!(ok + failed + count(&answers, StatusCode::TOO_MANY_REQUESTS), 30);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_failures_from_one_address_stop_at_the_address_limit() {
    let app = TestApp::builder().envs(&[("ARGON2_MEMORY_KIB", "1024")]).build().await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    let burst = (0..110).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        async move { instance.login_attempt(&format!("nobody{i}"), "whatever-pass", "10.9.9.9").await }
    });
    let answers = join_all(burst).await;
    let checked = count(&answers, StatusCode::UNAUTHORIZED);
    assert!(checked <= 100, "{checked} attempts checked from one address; the limit is 100");
    assert_eq!(checked + count(&answers, StatusCode::TOO_MANY_REQUESTS), 110);
    app.login_attempt("admin", PASSWORD, "10.9.9.9")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    // Another address is not held up.
    app.login_attempt("admin", PASSWORD, "10.9.9.10").await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_against_a_throttled_account_writes_one_audit_event_not_one_per_attempt() {
    let app = TestApp::builder().envs(&[("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "60")]).build().await;
    app.first_admin("admin").await;
    for i in 0..3 {
        app.login_attempt("admin", &format!("wrong-password-{i}"), "10.0.0.1").await;
    }
    for _ in 0..20 {
        app.login_attempt("admin", PASSWORD, "10.0.0.1").await.assert_status(StatusCode::TOO_MANY_REQUESTS);
    }
    let events = app.call(Method::GET, "/api/admin/audit?action=auth.login&limit=500", SYSTEM, None).await.json();
    let throttled = events.as_array().expect("array").iter().filter(|e| e["outcome"] == "throttled").count();
    assert_eq!(throttled, 1, "throttled refusals are audited once a minute per account");
}
