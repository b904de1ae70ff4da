//! Deletion, password resets and unlocking, and the audit trail of every
//! administration action.

use super::*;
use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_users_session_is_refused_and_nothing_passes_to_the_next_user() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "leaver", "operator").await;
    let leaver = other.login("leaver").await;

    let deleted = app.call(Method::DELETE, &user_path(id), Auth::Bearer(&admin), None).await;
    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.json()["sessions_ended"], 1);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&leaver), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::GET, &user_path(id), Auth::Bearer(&admin), None).await.assert_status(StatusCode::NOT_FOUND);

    // The name is free again, the id is not: the newcomer shares nothing with the leaver.
    let new_id = app.create_user(&admin, "leaver", "user").await;
    assert!(new_id > id, "ids are never reused ({new_id} after {id})");
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&leaver), None).await.assert_status(StatusCode::UNAUTHORIZED);
    let newcomer = app.login("leaver").await;
    let sessions = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&newcomer), None).await.json();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "only the newcomer's own session");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&newcomer), None).await.json();
    assert_eq!(me["role"], "user");
    assert_eq!(me["id"], new_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_reset_passwords_end_sessions_and_unlock_accounts() {
    let app = TestApp::builder().envs(&[("LOGIN_LOCKOUT_FAILURES", "2"), ("LOGIN_LOCKOUT_SECS", "600")]).build().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "pat", "user").await;
    let pat = app.login("pat").await;

    let reset = json!({"password": "Fresh-Passphrase-2026"});
    let response =
        app.call(Method::POST, &format!("{}/password", user_path(id)), Auth::Bearer(&admin), Some(&reset)).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json()["sessions_ended"], 1);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&pat), None).await.assert_status(StatusCode::UNAUTHORIZED);
    let weak = json!({"password": "12345678"});
    app.call(Method::POST, &format!("{}/password", user_path(id)), Auth::Bearer(&admin), Some(&weak))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Lock the account, then unlock it.
    let wrong = json!({"username": "pat", "password": "wrong-wrong-1"});
    for _ in 0..2 {
        app.call(Method::POST, "/api/auth/login", Auth::None, Some(&wrong))
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    let right = json!({"username": "pat", "password": "Fresh-Passphrase-2026"});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&right))
        .await
        .assert_status(StatusCode::TOO_MANY_REQUESTS);
    app.call(Method::POST, &format!("{}/unlock", user_path(id)), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    let again = app.call(Method::POST, "/api/auth/login", Auth::None, Some(&right)).await;
    again.assert_status(StatusCode::OK);

    // An admin ends another user's sessions.
    let token = again.session_token().expect("cookie");
    let ended = app.call(Method::DELETE, &format!("{}/sessions", user_path(id)), Auth::Bearer(&admin), None).await;
    assert_eq!(ended.json()["sessions_ended"], 1);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_administration_action_is_audited() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "audited", "user").await;
    let path = user_path(id);
    let auth = Auth::Bearer(&admin);
    app.call(Method::PUT, &format!("{path}/role"), auth, Some(&json!({"role": "operator"})))
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::PATCH, &path, auth, Some(&json!({"is_active": false}))).await.assert_status(StatusCode::OK);
    app.call(Method::PATCH, &path, auth, Some(&json!({"is_active": true}))).await.assert_status(StatusCode::OK);
    app.call(Method::POST, &format!("{path}/password"), auth, Some(&json!({"password": "Yet-Another-Pass-55"})))
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::POST, &format!("{path}/unlock"), auth, None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &format!("{path}/sessions"), auth, None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &path, auth, None).await.assert_status(StatusCode::OK);
    let events = app.call(Method::GET, "/api/admin/audit?actor=admin", auth, None).await.json();
    let actions: Vec<&str> = events.as_array().expect("array").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "user.role_change",
        "user.deactivate",
        "user.activate",
        "user.password_reset",
        "user.unlock",
        "session.revoke_all",
        "user.delete",
    ] {
        assert!(actions.contains(&action), "{action} not audited: {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_user_can_take_a_pseudo_actors_name_and_audit_filters_follow_the_user_not_the_name() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let auth = Auth::Bearer(&admin);
    // `_system` and `_anonymous` are the audit log's pseudo actors; no new name may start with `_`.
    for name in ["_system", "_anonymous", "_other"] {
        let body = json!({"username": name, "password": PASSWORD});
        let refused = app.call(Method::POST, "/api/auth/register", auth, Some(&body)).await;
        let error = refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error.to_string().contains("username"), "{error}");
        assert!(error["detail"].as_str().is_some_and(|d| d.contains("'_'")), "a clear detail: {error}");
    }
    let code =
        app.call(Method::POST, "/api/auth/invitations", auth, Some(&json!({"max_uses": 5}))).await.json()["code"]
            .as_str()
            .expect("code")
            .to_owned();
    let by_invitation = json!({"username": "_system", "password": PASSWORD, "invitation_code": code});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&by_invitation))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let events = |query: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let response =
                app.call(Method::GET, &format!("/api/admin/audit?{query}"), Auth::Bearer(&admin), None).await;
            response.assert_status(StatusCode::OK);
            response.json().as_array().expect("array").clone()
        }
    };
    // The first "alice" acts, then is deleted.
    let first = app.create_user(&admin, "alice", "user").await;
    let session = app.login("alice").await;
    app.create_token(&session, "first-token").await;
    let own = events("actor=alice".into()).await;
    assert!(own.iter().any(|e| e["action"] == "auth.login"), "{own:?}");
    assert!(own.iter().all(|e| e["actor_id"] == first), "only the first alice's events: {own:?}");
    app.call(Method::DELETE, &user_path(first), auth, None).await.assert_status(StatusCode::OK);
    assert_eq!(events("actor=alice".into()).await, Vec::<Value>::new(), "no one is called alice now");
    let kept = events(format!("actor_id={first}")).await;
    assert!(kept.iter().any(|e| e["action"] == "token.create"), "a deleted user's events stay: {kept:?}");

    // A second "alice" registers herself with the invitation: her filter shows her events only.
    let body = json!({"username": "alice", "password": PASSWORD, "invitation_code": code});
    let registered = app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
    registered.assert_status(StatusCode::CREATED);
    let second = registered.json()["user"]["id"].as_u64().expect("id");
    app.login("alice").await;
    let own = events("actor=alice".into()).await;
    let actions: Vec<&str> = own.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["user.register", "invitation.use", "auth.login"] {
        assert!(actions.contains(&action), "{action} missing: {own:?}");
    }
    assert!(own.iter().all(|e| e["actor_id"] == second), "nothing of the first alice: {own:?}");
    assert_eq!(events(format!("actor_id={second}")).await, own);

    // The pseudo actors keep their own partitions.
    app.call(Method::GET, "/api/auth/me", Auth::AdminSecret(ADMIN_SECRET), None).await.assert_status(StatusCode::OK);
    let system = events("actor=_system".into()).await;
    assert!(!system.is_empty() && system.iter().all(|e| e["actor"] == "_system" && e["actor_id"].is_null()));
    app.call(Method::GET, "/api/admin/audit?actor=alice&actor_id=1", auth, None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}
