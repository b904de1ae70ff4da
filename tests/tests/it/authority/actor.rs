//! Privileged writes re-check their actor when they commit; connecting to a
//! VPS needs `user`.

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, SYSTEM, TestApp};
use serde_json::{Value, json};
use shared::identity::user_cache;
use shared::types::Role;
use shared::users;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_with_a_third_present_never_both_succeed() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let root = app.first_admin("root").await;
    for trial in 0..20 {
        let a_id = app.create_user(&root, &format!("alpha{trial}"), "admin").await;
        let b_id = app.create_user(&root, &format!("bravo{trial}"), "admin").await;
        let a = app.login(&format!("alpha{trial}")).await;
        let b = other.login(&format!("bravo{trial}")).await;
        let (a_demotes_b, b_demotes_a) = tokio::join!(
            app.set_role(Auth::Bearer(&a), b_id, "viewer"),
            other.set_role(Auth::Bearer(&b), a_id, "viewer")
        );
        let (a_role, b_role) = (app.role_of(a_id).await, app.role_of(b_id).await);
        let statuses = (a_demotes_b.status, b_demotes_a.status);
        // Serial orders: A first (B is demoted, B's request then lacks the right), or B first.
        let a_first = statuses.0 == StatusCode::OK
            && statuses.1 == StatusCode::FORBIDDEN
            && a_role == "admin"
            && b_role == "viewer";
        let b_first = statuses.1 == StatusCode::OK
            && statuses.0 == StatusCode::FORBIDDEN
            && b_role == "admin"
            && a_role == "viewer";
        assert!(a_first || b_first, "trial {trial}: {statuses:?} left alpha {a_role}, bravo {b_role}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demotion_racing_the_demoted_admins_promotion_of_another_ends_as_some_serial_order() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let root = app.first_admin("root").await;
    for trial in 0..20 {
        let a_id = app.create_user(&root, &format!("alpha{trial}"), "admin").await;
        let c_id = app.create_user(&root, &format!("charlie{trial}"), "user").await;
        let a = app.login(&format!("alpha{trial}")).await;
        let (b_demotes_a, a_promotes_c) = tokio::join!(
            other.set_role(Auth::Bearer(&root), a_id, "viewer"),
            app.set_role(Auth::Bearer(&a), c_id, "admin")
        );
        b_demotes_a.assert_status(StatusCode::OK);
        assert_eq!(app.role_of(a_id).await, "viewer");
        let c_role = app.role_of(c_id).await;
        // Promotion first: C is an admin. Demotion first: the promotion is refused and C stays.
        match a_promotes_c.status {
            StatusCode::OK => assert_eq!(c_role, "admin", "trial {trial}"),
            StatusCode::FORBIDDEN => assert_eq!(c_role, "user", "trial {trial}"),
            other => panic!("trial {trial}: promotion answered {other}"),
        }
    }
}

/// What a request authorized a moment before its actor's demotion sees: the
/// cache still names the old role (a newer version than any real write, so
/// the demotion's own publication cannot replace it).
async fn authorized_just_before(app: &TestApp, id: u64, role: Role) {
    let record = users::get(&app.state.stores, id).await.expect("read").expect("user");
    let mut stale = user_cache::load(&app.state.stores, &record).await.expect("load");
    stale.role = role;
    stale.v = 1_000_000;
    user_cache::put(&app.state.stores.redis, &stale).await.expect("publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_privileged_write_is_refused_when_its_actor_was_demoted_before_it_committed() {
    let app = TestApp::start().await;
    let root = app.first_admin("root").await;
    let admin_id = app.create_user(&root, "exadmin", "admin").await;
    let op_id = app.create_user(&root, "exop", "operator").await;
    let victim = app.create_user(&root, "victim", "user").await;
    let worker = app.login("victim").await;
    let admin = app.login("exadmin").await;
    let op = app.login("exop").await;
    let gid = app.create_group(Auth::Bearer(&root), "team").await;
    let task_id = app.submit_task(Auth::Bearer(&worker), &json!({"command": "train.py"})).await;
    let vps_id = app.submit_task(SYSTEM, &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).await;

    app.set_role(Auth::Bearer(&root), admin_id, "viewer").await.assert_status(StatusCode::OK);
    app.set_role(Auth::Bearer(&root), op_id, "viewer").await.assert_status(StatusCode::OK);
    authorized_just_before(&app, admin_id, Role::Admin).await;
    authorized_just_before(&app, op_id, Role::Operator).await;

    let user_path = format!("/api/auth/users/{victim}");
    let admin_writes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PUT, format!("{user_path}/role"), Some(json!({"role": "admin"}))),
        (Method::PATCH, user_path.clone(), Some(json!({"is_active": false}))),
        (Method::POST, format!("{user_path}/password"), Some(json!({"password": "Another-Secret-Pass-7"}))),
        (Method::DELETE, user_path.clone(), None),
        (
            Method::POST,
            "/api/auth/register".into(),
            Some(json!({"username": "planted", "password": PASSWORD, "role": "admin"})),
        ),
        (Method::POST, "/api/auth/invitations".into(), Some(json!({"role": "admin"}))),
        (Method::POST, "/api/auth/groups".into(), Some(json!({"name": "rogue"}))),
        (Method::PUT, format!("/api/auth/groups/{gid}/members/{victim}"), None),
        (Method::DELETE, format!("/api/auth/groups/{gid}"), None),
    ];
    let op_writes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, format!("/api/approve/{task_id}"), None),
        (Method::POST, format!("/api/reject/{task_id}"), Some(json!({"reason": "no"}))),
        (Method::POST, format!("/api/vps/{vps_id}/assign"), Some(json!([op_id]))),
        (Method::POST, "/api/auth/invitations".into(), Some(json!({"role": "viewer"}))),
        (Method::POST, "/api/tasks".into(), Some(json!({"command": "auto-approved.py"}))),
    ];
    for (token, writes) in [(&admin, admin_writes), (&op, op_writes)] {
        for (method, path, body) in writes {
            let answer = app.call(method.clone(), &path, Auth::Bearer(token), body.as_ref()).await;
            assert_eq!(
                (answer.status, answer.json()["code"].clone()),
                (StatusCode::FORBIDDEN, json!("actor_revoked")),
                "{method} {path}"
            );
        }
    }
    // Nothing of it happened.
    assert_eq!(app.role_of(victim).await, "user");
    assert_eq!(
        app.call(Method::GET, &format!("/api/tasks/{task_id}"), SYSTEM, None).await.json()["status"],
        "pending_approval"
    );
    let groups = app.call(Method::GET, "/api/auth/groups", SYSTEM, None).await.json();
    assert_eq!(groups.as_array().expect("array").len(), 1, "no group made, none deleted: {groups}");
    let assignments = app.call(Method::GET, &format!("/api/vps/{vps_id}/assignments"), SYSTEM, None).await.json();
    assert_eq!(assignments["assignments"], json!([]));
    let invitations = app.call(Method::GET, "/api/auth/invitations", SYSTEM, None).await.json();
    assert_eq!(invitations.as_array().expect("array").len(), 0);
    app.login_attempt("victim", PASSWORD, "10.0.0.1").await.assert_status(StatusCode::OK);
    // Refreshed from DynamoDB, the cache tells the truth again: a plain 403.
    user_cache::invalidate(&app.state.stores.redis, admin_id).await.expect("drop");
    app.set_role(Auth::Bearer(&admin), victim, "admin").await.assert_error(StatusCode::FORBIDDEN, "insufficient_role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_assigned_to_a_vps_directly_or_through_a_group_may_not_connect() {
    let app = TestApp::start().await;
    let root = app.with_admin().await;
    let gid = app.create_group(root.auth(), "lab").await;
    let viewer = app.with_user_in_group("watcher", "viewer", gid).await;
    let user = app.with_user_in_group("worker", "user", gid).await;
    let (viewer_id, user_id, viewer, user) = (viewer.id, user.id, viewer.token, user.token);
    let mut vps_ids = Vec::new();
    for body in [json!({"user_ids": [viewer_id, user_id]}), json!({"group_ids": [gid]})] {
        let vps_id = app.submit_task(SYSTEM, &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).await;
        app.call(Method::POST, &format!("/api/vps/{vps_id}/assign"), SYSTEM, Some(&body))
            .await
            .assert_status(StatusCode::OK);
        vps_ids.push(vps_id);
    }
    for vps_id in &vps_ids {
        let question = json!({"resource": format!("vps:{vps_id}"), "action": "connect"});
        app.call(Method::POST, "/api/authorize", Auth::Bearer(&viewer), Some(&question))
            .await
            .assert_error(StatusCode::FORBIDDEN, "not_allowed");
        app.call(Method::POST, "/api/authorize", Auth::Bearer(&user), Some(&question))
            .await
            .assert_status(StatusCode::OK);
    }
}

/// An audit event by user `id` that requires them to hold `must_hold` when it commits.
fn self_event(id: u64, must_hold: Role) -> shared::audit::AuditEvent {
    shared::audit::AuditEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        at: shared::types::Timestamp::now(),
        actor: format!("user{id}"),
        actor_id: Some(id),
        actor_must_hold: Some(must_hold),
        actor_manages: None,
        actor_manages_member: None,
        action: "identity.unlink",
        target: None,
        outcome: shared::audit::Outcome::Success,
        reason: None,
        detail: None,
        client: None,
        request_id: None,
    }
}

/// A write whose only action on the actor's own record is a condition check
/// (unlinking an identity while a password remains) still carries the actor's
/// condition: it joins that check, as DynamoDB allows one action per item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actors_condition_joins_a_condition_check_of_their_own_record() {
    use shared::oidc::store::{self, Link, Remaining, UnlinkError};
    let app = TestApp::start().await;
    let root = app.first_admin("root").await;
    let id = app.create_user(&root, "uma", "user").await;
    let link = Link {
        id: store::identity_id("https://idp.example", "sub-uma"),
        user_id: id,
        provider: "idp".to_owned(),
        issuer: "https://idp.example".to_owned(),
        subject: "sub-uma".to_owned(),
        email: None,
        linked_at: shared::types::Timestamp::now(),
    };
    store::link(&app.state.stores, &link, &self_event(id, Role::User)).await.expect("linked");
    // As an admin, which uma is not: refused, the identity stays.
    let refused =
        store::unlink(&app.state.stores, id, &link.id, &Remaining::PasswordOrPasskey, &self_event(id, Role::Admin))
            .await;
    assert!(matches!(refused, Err(UnlinkError::LastWay | UnlinkError::Store(_))), "{refused:?}");
    assert_eq!(store::list(&app.state.stores, id).await.expect("list").len(), 1);
    // As the user she is: unlinked.
    store::unlink(&app.state.stores, id, &link.id, &Remaining::PasswordOrPasskey, &self_event(id, Role::User))
        .await
        .expect("unlinked");
    assert!(store::list(&app.state.stores, id).await.expect("list").is_empty());
}
