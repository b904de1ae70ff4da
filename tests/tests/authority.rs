//! The right to act, checked with the write: login throttles count an attempt
//! before its password is checked; every privileged write is conditioned on
//! the actor's own record when it commits; sessions belong to a credential
//! generation; invitations grant no more than their creator still could; and
//! connecting to a VPS needs `user`. The concurrent tests run many trials and
//! assert that each outcome is one some serial order of the requests gives.

use std::time::Duration;

use futures::future::join_all;
use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp, TestResponse};
use serde_json::{Value, json};
use shared::identity::user_cache;
use shared::types::Role;
use shared::users;

const SECRET: Auth<'static> = Auth::AdminSecret(ADMIN_SECRET);

async fn login_attempt(app: &TestApp, name: &str, password: &str, ip: &str) -> TestResponse {
    let body = json!({"username": name, "password": password});
    app.call_from(Method::POST, "/api/auth/login", Auth::None, Some(&body), ip).await
}

fn count(responses: &[TestResponse], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

async fn role_of(app: &TestApp, id: u64) -> Value {
    let user = app.call(Method::GET, &format!("/api/auth/users/{id}"), SECRET, None).await;
    user.assert_status(StatusCode::OK);
    user.json()["role"].clone()
}

async fn set_role(app: &TestApp, auth: Auth<'_>, id: u64, role: &str) -> TestResponse {
    app.call(Method::PUT, &format!("/api/auth/users/{id}/role"), auth, Some(&json!({"role": role}))).await
}

async fn me(app: &TestApp, token: &str) -> StatusCode {
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(token), None).await.status
}

// ---- 1. throttling counts an attempt before checking it ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_checks_no_more_than_the_free_failures_and_the_right_one_then_waits() {
    // A hash that takes a moment, as in production, so a burst is truly concurrent.
    let app = TestApp::start_with(&[("ARGON2_MEMORY_KIB", "4096")]).await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    let burst = (0..30).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        async move { login_attempt(instance, "admin", &format!("wrong-password-{i}"), "10.0.0.1").await }
    });
    let answers = join_all(burst).await;
    let checked = count(&answers, StatusCode::UNAUTHORIZED);
    assert_eq!(checked + count(&answers, StatusCode::TOO_MANY_REQUESTS), 30, "only 401s and 429s");
    assert!((1..=5).contains(&checked), "{checked} passwords were checked; the limit is 5 consecutive failures");
    // The right password right after the burst is refused: the account waits.
    login_attempt(&app, "admin", PASSWORD, "10.0.0.2")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_password_inside_a_burst_never_lets_the_whole_burst_be_checked() {
    let app = TestApp::start_with(&[("ARGON2_MEMORY_KIB", "4096")]).await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    for trial in 0..5 {
        app.call(Method::POST, "/api/auth/users/1/unlock", SECRET, None).await.assert_status(StatusCode::OK);
        let burst = (0..30).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &other };
            let password = if i == 15 { PASSWORD.to_owned() } else { format!("wrong-password-{i}") };
            async move { login_attempt(instance, "admin", &password, "10.0.0.1").await }
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
    let app = TestApp::start_with(&[("ARGON2_MEMORY_KIB", "1024")]).await;
    let other = app.another_instance().await;
    app.first_admin("admin").await;
    let burst = (0..110).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        async move { login_attempt(instance, &format!("nobody{i}"), "whatever-pass", "10.9.9.9").await }
    });
    let answers = join_all(burst).await;
    let checked = count(&answers, StatusCode::UNAUTHORIZED);
    assert!(checked <= 100, "{checked} attempts checked from one address; the limit is 100");
    assert_eq!(checked + count(&answers, StatusCode::TOO_MANY_REQUESTS), 110);
    login_attempt(&app, "admin", PASSWORD, "10.9.9.9")
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    // Another address is not held up.
    login_attempt(&app, "admin", PASSWORD, "10.9.9.10").await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_against_a_throttled_account_writes_one_audit_event_not_one_per_attempt() {
    let app = TestApp::start_with(&[("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "60")]).await;
    app.first_admin("admin").await;
    for i in 0..3 {
        login_attempt(&app, "admin", &format!("wrong-password-{i}"), "10.0.0.1").await;
    }
    for _ in 0..20 {
        login_attempt(&app, "admin", PASSWORD, "10.0.0.1").await.assert_status(StatusCode::TOO_MANY_REQUESTS);
    }
    let events = app.call(Method::GET, "/api/admin/audit?action=auth.login&limit=500", SECRET, None).await.json();
    let throttled = events.as_array().expect("array").iter().filter(|e| e["outcome"] == "throttled").count();
    assert_eq!(throttled, 1, "throttled refusals are audited once a minute per account");
}

// ---- 2. privileged writes re-check the actor ----

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
            set_role(&app, Auth::Bearer(&a), b_id, "viewer"),
            set_role(&other, Auth::Bearer(&b), a_id, "viewer")
        );
        let (a_role, b_role) = (role_of(&app, a_id).await, role_of(&app, b_id).await);
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
            set_role(&other, Auth::Bearer(&root), a_id, "viewer"),
            set_role(&app, Auth::Bearer(&a), c_id, "admin")
        );
        b_demotes_a.assert_status(StatusCode::OK);
        assert_eq!(role_of(&app, a_id).await, "viewer");
        let c_role = role_of(&app, c_id).await;
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
    let group = app.call(Method::POST, "/api/auth/groups", Auth::Bearer(&root), Some(&json!({"name": "team"}))).await;
    let gid = group.json()["id"].as_u64().expect("group id");
    let task = app.call(Method::POST, "/api/tasks", Auth::Bearer(&worker), Some(&json!({"command": "train.py"}))).await;
    let task_id = task.json()["task_ids"][0].as_str().expect("task id").to_owned();
    let vps = app
        .call(Method::POST, "/api/tasks", SECRET, Some(&json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})))
        .await;
    let vps_id = vps.json()["task_ids"][0].as_str().expect("vps id").to_owned();

    set_role(&app, Auth::Bearer(&root), admin_id, "viewer").await.assert_status(StatusCode::OK);
    set_role(&app, Auth::Bearer(&root), op_id, "viewer").await.assert_status(StatusCode::OK);
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
    assert_eq!(role_of(&app, victim).await, "user");
    assert_eq!(
        app.call(Method::GET, &format!("/api/tasks/{task_id}"), SECRET, None).await.json()["status"],
        "pending_approval"
    );
    let groups = app.call(Method::GET, "/api/auth/groups", SECRET, None).await.json();
    assert_eq!(groups.as_array().expect("array").len(), 1, "no group made, none deleted: {groups}");
    let assignments = app.call(Method::GET, &format!("/api/vps/{vps_id}/assignments"), SECRET, None).await.json();
    assert_eq!(assignments["assignments"], json!([]));
    let invitations = app.call(Method::GET, "/api/auth/invitations", SECRET, None).await.json();
    assert_eq!(invitations.as_array().expect("array").len(), 0);
    login_attempt(&app, "victim", PASSWORD, "10.0.0.1").await.assert_status(StatusCode::OK);
    // Refreshed from DynamoDB, the cache tells the truth again: a plain 403.
    user_cache::invalidate(&app.state.stores.redis, admin_id).await.expect("drop");
    set_role(&app, Auth::Bearer(&admin), victim, "admin")
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
}

// ---- 3. sessions belong to a credential generation ----

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
        login_attempt(app, name, PASSWORD, "10.1.0.1").await
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
    let app = TestApp::start_with(&[("ARGON2_MEMORY_KIB", "16384")]).await;
    let other = app.another_instance().await;
    let root = app.first_admin("root").await;
    for (trial, offset_ms) in (-40..=80).step_by(8).enumerate() {
        let name = format!("changer{trial}");
        app.create_user(&root, &name, "user").await;
        let own = app.login(&name).await;
        let body = json!({"current_password": PASSWORD, "new_password": "Brand-New-Secret-42"});
        let change = other.call(Method::POST, "/api/auth/password", Auth::Bearer(&own), Some(&body));
        if let Some(session) = login_racing(&app, &name, offset_ms, change).await {
            assert_eq!(me(&app, &session).await, StatusCode::UNAUTHORIZED, "offset {offset_ms} ms: change");
        }
        assert_eq!(me(&app, &own).await, StatusCode::OK, "the changer's own session lives on");

        let name = format!("reset{trial}");
        let id_reset = app.create_user(&root, &name, "user").await;
        let path = format!("/api/auth/users/{id_reset}/password");
        let new_password = json!({"password": "Brand-New-Secret-42"});
        let reset = other.call(Method::POST, &path, Auth::Bearer(&root), Some(&new_password));
        if let Some(session) = login_racing(&app, &name, offset_ms, reset).await {
            assert_eq!(me(&app, &session).await, StatusCode::UNAUTHORIZED, "offset {offset_ms} ms: reset");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_racing_a_deactivation_never_comes_back_with_the_reactivation() {
    // A hash that takes a while (as in production) opens the window the race needs.
    let app = TestApp::start_with(&[("ARGON2_MEMORY_KIB", "16384")]).await;
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
            assert_eq!(me(&app, &session).await, StatusCode::UNAUTHORIZED, "offset {offset_ms} ms");
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
    assert_eq!(me(&app, &kept).await, StatusCode::OK, "by default tokens stay: the password never protected them");
    let body = json!({"password": "Other-New-Secret-43", "revoke_tokens": true});
    let reset = app.call(Method::POST, &path, Auth::Bearer(&root), Some(&body)).await;
    assert_eq!(reset.json()["tokens_revoked"], 1);
    assert_eq!(me(&app, &kept).await, StatusCode::UNAUTHORIZED);
    // The token cap's counter followed: the user can make a new token.
    let fresh =
        login_attempt(&app, "scripted", "Other-New-Secret-43", "10.0.0.1").await.session_token().expect("session");
    app.create_token(&fresh, "new").await;
}

// ---- 4. invitations are bounded by their creator's current rights ----

async fn invite(app: &TestApp, token: &str, body: Value) -> String {
    let created = app.call(Method::POST, "/api/auth/invitations", Auth::Bearer(token), Some(&body)).await;
    created.assert_status(StatusCode::CREATED);
    created.json()["code"].as_str().expect("code").to_owned()
}

async fn register(app: &TestApp, name: &str, code: &str) -> TestResponse {
    let body = json!({"username": name, "password": PASSWORD, "invitation_code": code});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await
}

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
    let admin_code = invite(&app, &inviter, json!({"role": "admin", "max_uses": 5})).await;
    let viewer_code = invite(&app, &inviter, json!({"role": "viewer", "max_uses": 5})).await;
    let op_code = invite(&app, &op, json!({"role": "viewer", "max_uses": 5})).await;
    let gone_code = invite(&app, &gone, json!({"role": "user", "max_uses": 5})).await;
    let secret_code = {
        let created = app.call(Method::POST, "/api/auth/invitations", SECRET, Some(&json!({"role": "admin"}))).await;
        created.json()["code"].as_str().expect("code").to_owned()
    };
    register(&app, "early", &admin_code).await.assert_status(StatusCode::CREATED);

    // The admin becomes an operator: admin invitations die, viewer ones still work.
    set_role(&app, Auth::Bearer(&root), admin_id, "operator").await.assert_status(StatusCode::OK);
    register(&app, "late", &admin_code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
    register(&app, "viewer1", &viewer_code).await.assert_status(StatusCode::CREATED);
    // The operator becomes a user: even viewer invitations are beyond a user.
    set_role(&app, Auth::Bearer(&root), op_id, "user").await.assert_status(StatusCode::OK);
    register(&app, "viewer2", &op_code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
    // Deactivated or deleted creators grant nothing.
    app.call(Method::DELETE, &format!("/api/auth/users/{gone_id}"), Auth::Bearer(&root), None)
        .await
        .assert_status(StatusCode::OK);
    register(&app, "orphan", &gone_code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
    // The admin secret's invitations have no creator to lose rights.
    register(&app, "fromsecret", &secret_code).await.assert_status(StatusCode::CREATED);
    // Nothing was consumed by the refusals, and nobody was created.
    for name in ["late", "viewer2", "orphan"] {
        let found = app.call(Method::GET, "/api/auth/users?limit=500", SECRET, None).await.json();
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
        let code = invite(&app, &inviter, json!({"role": "admin", "max_uses": 9})).await;
        let regs = (0..8).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &other };
            let code = code.clone();
            async move { register(instance, &format!("t{trial}r{i}"), &code).await }
        });
        let demote = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            set_role(&other, Auth::Bearer(&root), inviter_id, "user").await
        };
        let (answers, demoted) = tokio::join!(join_all(regs), demote);
        demoted.assert_status(StatusCode::OK);
        let created = count(&answers, StatusCode::CREATED);
        assert_eq!(created + count(&answers, StatusCode::BAD_REQUEST), 8, "trial {trial}");
        // Any registration after the demotion is refused, so later ones stay refused.
        register(&app, &format!("t{trial}after"), &code)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invitation_revoked");
        let listed = app.call(Method::GET, "/api/auth/invitations", SECRET, None).await.json();
        let inviter_name = format!("inviter{trial}");
        let invitation = listed.as_array().expect("array").iter().find(|i| i["created_by"] == inviter_name.as_str());
        let uses = invitation.expect("the invitation is listed")["uses"].as_u64();
        assert_eq!(uses, u64::try_from(created).ok(), "trial {trial}: only the registrations made count a use");
    }
}

// ---- 5. connecting needs `user` ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_assigned_to_a_vps_directly_or_through_a_group_may_not_connect() {
    let app = TestApp::start().await;
    let root = app.first_admin("root").await;
    let viewer_id = app.create_user(&root, "watcher", "viewer").await;
    let user_id = app.create_user(&root, "worker", "user").await;
    let viewer = app.login("watcher").await;
    let user = app.login("worker").await;
    let group = app.call(Method::POST, "/api/auth/groups", Auth::Bearer(&root), Some(&json!({"name": "lab"}))).await;
    let gid = group.json()["id"].as_u64().expect("group id");
    for member in [viewer_id, user_id] {
        app.call(Method::PUT, &format!("/api/auth/groups/{gid}/members/{member}"), Auth::Bearer(&root), None)
            .await
            .assert_status(StatusCode::OK);
    }
    let mut vps_ids = Vec::new();
    for body in [json!({"user_ids": [viewer_id, user_id]}), json!({"group_ids": [gid]})] {
        let vps = app
            .call(Method::POST, "/api/tasks", SECRET, Some(&json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})))
            .await;
        let vps_id = vps.json()["task_ids"][0].as_str().expect("vps id").to_owned();
        app.call(Method::POST, &format!("/api/vps/{vps_id}/assign"), SECRET, Some(&body))
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
