//! Sessions: they end everywhere at once (logout, password change, revocation),
//! expire with their TTL, and cannot be forged.

use std::time::Duration;

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_takes_effect_on_a_second_instance() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let token = app.first_admin("admin").await;
    other.call(Method::GET, "/api/auth/me", Auth::Cookie(&token), None).await.assert_status(StatusCode::OK);
    app.call(Method::POST, "/api/auth/logout", Auth::Cookie(&token), None).await.assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Cookie(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_every_other_session_on_every_instance() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "erin", "user").await;
    let here = app.login("erin").await;
    let there = other.login("erin").await;

    let change = json!({"current_password": PASSWORD, "new_password": "Brand-New-Passphrase-42"});
    let response = app.call(Method::POST, "/api/auth/password", Auth::Bearer(&here), Some(&change)).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json()["sessions_ended"], 1);

    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&there), None).await.assert_status(StatusCode::UNAUTHORIZED);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&here), None).await.assert_status(StatusCode::OK);
    // The old password no longer works; the new one does.
    let old = json!({"username": "erin", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&old)).await.assert_status(StatusCode::UNAUTHORIZED);
    let new = json!({"username": "erin", "password": "Brand-New-Passphrase-42"});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&new)).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_needs_the_current_password_and_a_good_new_one() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let wrong = json!({"current_password": "not-my-password", "new_password": "Brand-New-Passphrase-42"});
    app.call(Method::POST, "/api/auth/password", Auth::Bearer(&admin), Some(&wrong))
        .await
        .assert_error(StatusCode::FORBIDDEN, "wrong_password");
    let weak = json!({"current_password": PASSWORD, "new_password": "qwerty123"});
    let body = app
        .call(Method::POST, "/api/auth/password", Auth::Bearer(&admin), Some(&weak))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "new_password");
    app.call(Method::POST, "/api/auth/password", Auth::None, Some(&weak)).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked_one_or_all_but_current() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let first = app.first_admin("admin").await;
    let second = app.login("admin").await;
    let third = other.login("admin").await;

    let list = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&first), None).await;
    list.assert_status(StatusCode::OK);
    let sessions = list.json();
    let sessions = sessions.as_array().expect("array");
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    for s in sessions {
        for field in ["id", "created_at", "last_seen_at", "expires_at", "client", "user_agent"] {
            assert!(s[field].is_string(), "{field} missing in {s}");
        }
        assert_eq!(s["user_agent"], "krv-tests");
    }

    // Revoke the second session by id (the newest not-current one that is not `third`).
    let second_id = app
        .call(Method::GET, "/api/auth/sessions", Auth::Bearer(&second), None)
        .await
        .json()
        .as_array()
        .and_then(|all| {
            all.iter().find(|s| s["current"] == true).map(|s| s["id"].as_str().unwrap_or_default().to_owned())
        })
        .expect("current session id");
    let path = format!("/api/auth/sessions/{second_id}");
    app.call(Method::DELETE, &path, Auth::Bearer(&first), None).await.assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&second), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::DELETE, &path, Auth::Bearer(&first), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Revoke all but the current one.
    let response = app.call(Method::DELETE, "/api/auth/sessions", Auth::Bearer(&first), None).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json()["sessions_ended"], 1);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&third), None).await.assert_status(StatusCode::UNAUTHORIZED);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&first), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_revoke_another_users_session() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "frank", "user").await;
    let frank = app.login("frank").await;
    let admin_sessions = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&admin), None).await.json();
    let admin_session = admin_sessions[0]["id"].as_str().expect("id").to_owned();
    app.call(Method::DELETE, &format!("/api/auth/sessions/{admin_session}"), Auth::Bearer(&frank), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expires_when_its_ttl_passes() {
    let app = TestApp::builder().envs(&[("SESSION_EXPIRE_SECONDS", "2")]).build().await;
    let token = app.first_admin("admin").await;
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
    let sessions_key = format!("{}:sess:*", app.state.config.stores.table_prefix);
    let keys: Vec<String> = app.state.stores.redis.query(&keys_cmd(&sessions_key)).await.expect("KEYS");
    assert_eq!(keys.len(), 1, "one session record");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let keys: Vec<String> = app.state.stores.redis.query(&keys_cmd(&sessions_key)).await.expect("KEYS");
    assert!(keys.is_empty(), "the record expired with its TTL");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
}

fn keys_cmd(pattern: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("KEYS");
    cmd.arg(pattern);
    cmd
}
