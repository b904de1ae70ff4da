//! Invitations are bounded by their creator's current rights.

use super::*;
use futures::future::join_all;
use http::{Method, StatusCode};
use krv_tests::{Auth, SYSTEM, TestApp};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_stops_working_when_its_creator_can_no_longer_grant_it() {
    let app = TestApp::start().await;
    let root = app.first_admin("root").await;
    let admin_id = app.create_user(&root, "inviter", "admin").await;
    let op_id = app.create_user(&root, "opinviter", "operator").await;
    let gone_id = app.create_user(&root, "goneinviter", "admin").await;
    let inviter = app.login("inviter").await;
    let op = app.login("opinviter").await;
    let gone = app.login("goneinviter").await;
    let admin_code = app.invitation_code(Auth::Bearer(&inviter), &json!({"role": "admin", "max_uses": 5})).await;
    let viewer_code = app.invitation_code(Auth::Bearer(&inviter), &json!({"role": "viewer", "max_uses": 5})).await;
    let op_code = app.invitation_code(Auth::Bearer(&op), &json!({"role": "viewer", "max_uses": 5})).await;
    let gone_code = app.invitation_code(Auth::Bearer(&gone), &json!({"role": "user", "max_uses": 5})).await;
    let secret_code = {
        let created = app.call(Method::POST, "/api/auth/invitations", SYSTEM, Some(&json!({"role": "admin"}))).await;
        created.json()["code"].as_str().expect("code").to_owned()
    };
    app.register_invited("early", &admin_code).await.assert_status(StatusCode::CREATED);

    // The admin becomes an operator: admin invitations die, viewer ones still work.
    app.set_role(Auth::Bearer(&root), admin_id, "operator").await.assert_status(StatusCode::OK);
    app.register_invited("late", &admin_code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
    app.register_invited("viewer1", &viewer_code).await.assert_status(StatusCode::CREATED);
    // The operator becomes a user: even viewer invitations are beyond a user.
    app.set_role(Auth::Bearer(&root), op_id, "user").await.assert_status(StatusCode::OK);
    app.register_invited("viewer2", &op_code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
    // Deactivated or deleted creators grant nothing.
    app.call(Method::DELETE, &format!("/api/auth/users/{gone_id}"), Auth::Bearer(&root), None)
        .await
        .assert_status(StatusCode::OK);
    app.register_invited("orphan", &gone_code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
    // The admin secret's invitations have no creator to lose rights.
    app.register_invited("fromsecret", &secret_code).await.assert_status(StatusCode::CREATED);
    // Nothing was consumed by the refusals, and nobody was created.
    for name in ["late", "viewer2", "orphan"] {
        let found = app.call(Method::GET, "/api/auth/users?limit=500", SYSTEM, None).await.json();
        assert!(!found.as_array().expect("array").iter().any(|u| u["username"] == name), "{name} exists");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_racing_the_creators_demotion_end_as_some_serial_order() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let root = app.first_admin("root").await;
    for trial in 0..10 {
        let inviter_id = app.create_user(&root, &format!("inviter{trial}"), "admin").await;
        let inviter = app.login(&format!("inviter{trial}")).await;
        let code = app.invitation_code(Auth::Bearer(&inviter), &json!({"role": "admin", "max_uses": 9})).await;
        let regs = (0..8).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &other };
            let code = code.clone();
            async move { instance.register_invited(&format!("t{trial}r{i}"), &code).await }
        });
        let demote = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            other.set_role(Auth::Bearer(&root), inviter_id, "user").await
        };
        let (answers, demoted) = tokio::join!(join_all(regs), demote);
        demoted.assert_status(StatusCode::OK);
        let created = count(&answers, StatusCode::CREATED);
        assert_eq!(created + count(&answers, StatusCode::BAD_REQUEST), 8, "trial {trial}");
        // Any registration after the demotion is refused, so later ones stay refused.
        app.register_invited(&format!("t{trial}after"), &code)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
        let listed = app.call(Method::GET, "/api/auth/invitations", SYSTEM, None).await.json();
        let inviter_name = format!("inviter{trial}");
        let invitation = listed.as_array().expect("array").iter().find(|i| i["created_by"] == inviter_name.as_str());
        let uses = invitation.expect("the invitation is listed")["uses"].as_u64();
        assert_eq!(uses, u64::try_from(created).ok(), "trial {trial}: only the registrations made count a use");
    }
}
