//! Sessions belong to a credential generation.

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp, TestResponse};
use serde_json::json;
use std::time::Duration;

/// Runs `change` and a login with the old password, one `offset` after the
/// other (the login later for positive offsets, earlier for negative ones); a
/// login that succeeded must not leave a working session once `change` is done.
async fn login_racing(
    app: &TestApp,
    name: &str,
    offset_ms: i64,
    change: impl Future<Output = TestResponse>,
) -> Option<String> {
    let delay = |ms: i64| tokio::time::sleep(Duration::from_millis(ms.unsigned_abs()));
    let login = async {
        delay(offset_ms.max(0)).await;
        app.login_attempt(name, PASSWORD, "10.1.0.1").await
    };
    let change = async {
        delay(offset_ms.min(0)).await;
        change.await
    };
    let (changed, login) = tokio::join!(change, login);
    changed.assert_status(StatusCode::OK);
    (login.status == StatusCode::OK).then(|| login.session_token().expect("session"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_password_change_or_reset_never_leaves_a_working_session() {
    // A hash that takes a while (as in production) opens the window the race needs.
    let app = TestApp::builder().envs(&[("ARGON2_MEMORY_KIB", "16384")]).build().await;
    let other = app.another_instance().await;
    let root = app.first_admin("root").await;
    for (trial, offset_ms) in (-40..=80).step_by(8).enumerate() {
        let name = format!("changer{trial}");
        app.create_user(&root, &name, "user").await;
        let own = app.login(&name).await;
        let body = json!({"current_password": PASSWORD, "new_password": "Brand-New-Secret-42"});
        let change = other.call(Method::POST, "/api/auth/password", Auth::Bearer(&own), Some(&body));
        if let Some(session) = login_racing(&app, &name, offset_ms, change).await {
            assert_eq!(app.me_status(&session).await, StatusCode::UNAUTHORIZED, "offset {offset_ms} ms: change");
        }
        assert_eq!(app.me_status(&own).await, StatusCode::OK, "the changer's own session lives on");

        let name = format!("reset{trial}");
        let id_reset = app.create_user(&root, &name, "user").await;
        let path = format!("/api/auth/users/{id_reset}/password");
        let new_password = json!({"password": "Brand-New-Secret-42"});
        let reset = other.call(Method::POST, &path, Auth::Bearer(&root), Some(&new_password));
        if let Some(session) = login_racing(&app, &name, offset_ms, reset).await {
            assert_eq!(app.me_status(&session).await, StatusCode::UNAUTHORIZED, "offset {offset_ms} ms: reset");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_deactivation_never_comes_back_with_the_reactivation() {
    // A hash that takes a while (as in production) opens the window the race needs.
    let app = TestApp::builder().envs(&[("ARGON2_MEMORY_KIB", "16384")]).build().await;
    let other = app.another_instance().await;
    let root = app.first_admin("root").await;
    for (trial, offset_ms) in (-40..=80).step_by(8).enumerate() {
        let name = format!("member{trial}");
        let id = app.create_user(&root, &name, "user").await;
        let path = format!("/api/auth/users/{id}");
        let inactive = json!({"is_active": false});
        let deactivate = other.call(Method::PATCH, &path, Auth::Bearer(&root), Some(&inactive));
        let session = login_racing(&app, &name, offset_ms, deactivate).await;
        app.call(Method::PATCH, &path, Auth::Bearer(&root), Some(&json!({"is_active": true})))
            .await
            .assert_status(StatusCode::OK);
        if let Some(session) = session {
            assert_eq!(app.me_status(&session).await, StatusCode::UNAUTHORIZED, "offset {offset_ms} ms");
        }
        // A login after the reactivation works as ever.
        app.login(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reset_can_also_revoke_the_users_api_tokens() {
    let app = TestApp::start().await;
    let root = app.first_admin("root").await;
    let id = app.create_user(&root, "scripted", "user").await;
    let session = app.login("scripted").await;
    let (kept, _) = app.create_token(&session, "kept").await;
    let path = format!("/api/auth/users/{id}/password");
    let reset =
        app.call(Method::POST, &path, Auth::Bearer(&root), Some(&json!({"password": "Brand-New-Secret-42"}))).await;
    reset.assert_status(StatusCode::OK);
    assert_eq!(reset.json()["sessions_ended"], 1);
    assert_eq!(app.me_status(&kept).await, StatusCode::OK, "by default tokens stay: the password never protected them");
    let body = json!({"password": "Other-New-Secret-43", "revoke_tokens": true});
    let reset = app.call(Method::POST, &path, Auth::Bearer(&root), Some(&body)).await;
    assert_eq!(reset.json()["tokens_revoked"], 1);
    assert_eq!(app.me_status(&kept).await, StatusCode::UNAUTHORIZED);
    // The token cap's counter followed: the user can make a new token.
    let fresh =
        app.login_attempt("scripted", "Other-New-Secret-43", "10.0.0.1").await.session_token().expect("session");
    app.create_token(&fresh, "new").await;
}
