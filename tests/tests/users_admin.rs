//! User administration: listing, roles, activity, deletion, the guards, and
//! changes taking effect on the next request everywhere.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

fn user_path(id: u64) -> String {
    format!("/api/auth/users/{id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_list_shows_every_field_and_pages_with_a_cursor() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    for i in 0..4 {
        app.create_user(&admin, &format!("member{i}"), "user").await;
    }
    app.login("member1").await;
    app.login("member1").await;

    let first = app.call(Method::GET, "/api/auth/users?limit=2", Auth::Bearer(&admin), None).await;
    first.assert_status(StatusCode::OK);
    let page1 = first.json();
    let page1 = page1.as_array().expect("a JSON array");
    assert_eq!(page1.len(), 2);
    assert_eq!(page1[0]["username"], "member3", "newest first");
    for field in ["id", "username", "display_name", "role", "is_active", "created_at", "groups", "active_sessions"] {
        assert!(page1[0].get(field).is_some(), "{field} missing: {}", page1[0]);
    }
    assert!(page1[0].get("last_login_at").is_some() && page1[0].get("last_seen_at").is_some());
    let cursor = first.header("x-next-cursor").expect("a next cursor").to_owned();

    let mut all: Vec<Value> = page1.to_vec();
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        let response = app
            .call(Method::GET, &format!("/api/auth/users?limit=2&cursor={cursor}"), Auth::Bearer(&admin), None)
            .await;
        response.assert_status(StatusCode::OK);
        all.extend(response.json().as_array().expect("array").iter().cloned());
        next = response.header("x-next-cursor").map(str::to_owned);
    }
    let names: Vec<&str> = all.iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["member3", "member2", "member1", "member0", "admin"]);
    let member1 = all.iter().find(|u| u["username"] == "member1").expect("member1");
    assert_eq!(member1["active_sessions"], 2);
    assert!(member1["last_login_at"].is_string());

    app.call(Method::GET, "/api/auth/users?limit=501", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.call(Method::GET, "/api/auth/users?cursor=bogus", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_seen_is_recorded_from_authenticated_requests() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "walker", "user").await;
    let before = app.call(Method::GET, &user_path(id), Auth::Bearer(&admin), None).await.json();
    assert_eq!(before["last_seen_at"], Value::Null);
    let walker = app.login("walker").await;
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&walker), None).await.assert_status(StatusCode::OK);
    let after = app.call(Method::GET, &user_path(id), Auth::Bearer(&admin), None).await.json();
    assert!(after["last_seen_at"].is_string(), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_bad_ids_and_bad_roles_are_refused_clearly() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "target", "user").await;
    app.call(Method::GET, "/api/auth/users/99999", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, "/api/auth/users/not-a-number", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let role = |r: &str| json!({"role": r});
    app.call(Method::PUT, "/api/auth/users/99999/role", Auth::Bearer(&admin), Some(&role("viewer")))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    for bad in ["root", "anony", "Admin", ""] {
        let body = app
            .call(Method::PUT, &format!("{}/role", user_path(id)), Auth::Bearer(&admin), Some(&role(bad)))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "role");
    }
    app.call(Method::PATCH, &user_path(id), Auth::Bearer(&admin), Some(&json!({"role": "superuser"})))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.call(Method::DELETE, "/api/auth/users/99999", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_operator_loses_operator_rights_on_the_next_request_through_another_instance() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "oscar", "operator").await;
    let oscar = other.login("oscar").await;
    other.call(Method::GET, "/api/auth/users", Auth::Bearer(&oscar), None).await.assert_status(StatusCode::OK);

    let demoted = app
        .call(Method::PUT, &format!("{}/role", user_path(id)), Auth::Bearer(&admin), Some(&json!({"role": "user"})))
        .await;
    demoted.assert_status(StatusCode::OK);
    assert_eq!(demoted.json()["role"], "user");

    other
        .call(Method::GET, "/api/auth/users", Auth::Bearer(&oscar), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    let me = other.call(Method::GET, "/api/auth/me", Auth::Bearer(&oscar), None).await.json();
    assert_eq!(me["role"], "user");
    // And promotion is seen at once too.
    app.call(Method::PATCH, &user_path(id), Auth::Bearer(&admin), Some(&json!({"role": "operator"})))
        .await
        .assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/users", Auth::Bearer(&oscar), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_ends_sessions_and_reactivation_does_not_bring_them_back() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "dora", "user").await;
    let dora = other.login("dora").await;

    let response =
        app.call(Method::PATCH, &user_path(id), Auth::Bearer(&admin), Some(&json!({"is_active": false}))).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json()["is_active"], false);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&dora), None).await.assert_status(StatusCode::UNAUTHORIZED);
    let login = json!({"username": "dora", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&login)).await.assert_status(StatusCode::UNAUTHORIZED);

    app.call(Method::PATCH, &user_path(id), Auth::Bearer(&admin), Some(&json!({"is_active": true})))
        .await
        .assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&dora), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&login)).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_cannot_demote_deactivate_or_delete_themselves() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "backup", "admin").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.json();
    let path = user_path(me["id"].as_u64().expect("id"));
    app.call(Method::PUT, &format!("{path}/role"), Auth::Bearer(&admin), Some(&json!({"role": "operator"})))
        .await
        .assert_error(StatusCode::FORBIDDEN, "self_change");
    app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"is_active": false})))
        .await
        .assert_error(StatusCode::FORBIDDEN, "self_change");
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "self_change");
    // Renaming oneself is fine.
    app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"display_name": "The Admin"})))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_active_admin_is_guarded_even_against_the_admin_secret() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.json();
    let path = user_path(me["id"].as_u64().expect("id"));
    let secret = Auth::AdminSecret(ADMIN_SECRET);
    app.call(Method::PUT, &format!("{path}/role"), secret, Some(&json!({"role": "user"})))
        .await
        .assert_error(StatusCode::CONFLICT, "last_admin");
    app.call(Method::PATCH, &path, secret, Some(&json!({"is_active": false})))
        .await
        .assert_error(StatusCode::CONFLICT, "last_admin");
    app.call(Method::DELETE, &path, secret, None).await.assert_error(StatusCode::CONFLICT, "last_admin");
    // Still an admin, still logged in.
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.json();
    assert_eq!(me["role"], "admin");
    // With a second admin, the first may be demoted.
    app.create_user(&admin, "heir", "admin").await;
    app.call(Method::PUT, &format!("{path}/role"), secret, Some(&json!({"role": "user"})))
        .await
        .assert_status(StatusCode::OK);
    let stats = app.call(Method::GET, "/api/admin/stats", secret, None).await.json();
    assert_eq!(stats["users"]["active_admins"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_each_other_at_once_leave_exactly_one_admin() {
    for round in 0..5 {
        let app = TestApp::start().await;
        let other = app.another_instance().await;
        let a = app.first_admin("alpha").await;
        let b_id = app.create_user(&a, "bravo", "admin").await;
        let b = other.login("bravo").await;
        let a_id =
            app.call(Method::GET, "/api/auth/me", Auth::Bearer(&a), None).await.json()["id"].as_u64().expect("id");
        let demote = json!({"role": "operator"});
        let (b_path, a_path) = (format!("{}/role", user_path(b_id)), format!("{}/role", user_path(a_id)));
        let (r1, r2) = tokio::join!(
            app.call(Method::PUT, &b_path, Auth::Bearer(&a), Some(&demote)),
            other.call(Method::PUT, &a_path, Auth::Bearer(&b), Some(&demote)),
        );
        let statuses = [r1.status, r2.status];
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        assert!(ok <= 1, "round {round}: both demotions succeeded: {statuses:?}");
        let users = app.call(Method::GET, "/api/auth/users", Auth::AdminSecret(ADMIN_SECRET), None).await.json();
        let admins =
            users.as_array().expect("array").iter().filter(|u| u["role"] == "admin" && u["is_active"] == true).count();
        assert_eq!(admins, 1, "round {round}: {statuses:?} left {admins} admins");
        let stats = app.call(Method::GET, "/api/admin/stats", Auth::AdminSecret(ADMIN_SECRET), None).await.json();
        assert_eq!(stats["users"]["active_admins"], 1, "round {round}: the counter drifted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_role_changes_end_consistent_with_the_audit_trail() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "target", "user").await;
    let roles = ["viewer", "operator", "admin", "user", "viewer", "operator", "admin", "viewer", "operator", "user"];
    let calls = roles.iter().enumerate().map(|(i, role)| {
        let instance = if i % 2 == 0 { &app } else { &other };
        let admin = admin.clone();
        let body = json!({"role": role});
        async move {
            instance.call(Method::PUT, &format!("{}/role", user_path(id)), Auth::Bearer(&admin), Some(&body)).await
        }
    });
    let results = futures::future::join_all(calls).await;
    for r in &results {
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::CONFLICT,
            "{} {}",
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
    }
    let user = app.call(Method::GET, &user_path(id), Auth::Bearer(&admin), None).await.json();

    // The audit trail, ordered by the version each change produced, ends at the stored role.
    let audit = app
        .call(Method::GET, "/api/admin/audit?action=user.role_change&limit=500", Auth::Bearer(&admin), None)
        .await
        .json();
    let mut changes: Vec<(u64, String)> = audit
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["target"].as_str().is_some_and(|t| t.starts_with(&format!("user:{id} "))))
        .filter_map(|e| {
            let detail = e["detail"].as_str()?;
            let version = detail.rsplit('v').next()?.parse().ok()?;
            let to = detail.split(" → ").nth(1)?.split(';').next()?.to_owned();
            Some((version, to))
        })
        .collect();
    changes.sort();
    assert!(!changes.is_empty(), "no role change was audited");
    let ok = results.iter().filter(|r| r.status == StatusCode::OK).count();
    assert!(changes.len() <= ok, "more audited changes ({}) than successes ({ok})", changes.len());
    let versions: Vec<u64> = changes.iter().map(|c| c.0).collect();
    let mut unique = versions.clone();
    unique.dedup();
    assert_eq!(versions, unique, "two changes claim one version");
    if let Some((_, last)) = changes.last() {
        assert_eq!(user["role"], last.as_str(), "stored role vs last audited change");
    }
    // The counters match reality.
    let stats = app.call(Method::GET, "/api/admin/stats", Auth::Bearer(&admin), None).await.json();
    let users = app.call(Method::GET, "/api/auth/users", Auth::Bearer(&admin), None).await.json();
    let mut by_role: BTreeMap<String, i64> = BTreeMap::new();
    for u in users.as_array().expect("array") {
        *by_role.entry(u["role"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    for role in ["viewer", "user", "operator", "admin"] {
        assert_eq!(
            stats["users"]["by_role"][role].as_i64().unwrap_or(0),
            by_role.get(role).copied().unwrap_or(0),
            "{role}"
        );
    }
    let admins = users.as_array().expect("array").iter().filter(|u| u["role"] == "admin").count();
    assert_eq!(stats["users"]["active_admins"].as_u64(), u64::try_from(admins).ok());
}

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
    let app = TestApp::start_with(&[("LOGIN_LOCKOUT_FAILURES", "2"), ("LOGIN_LOCKOUT_SECS", "600")]).await;
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
async fn users_below_operator_see_only_themselves() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let me_id = app.create_user(&admin, "vera", "viewer").await;
    let other_id = app.create_user(&admin, "walt", "user").await;
    let vera = app.login("vera").await;
    let mine = app.call(Method::GET, &user_path(me_id), Auth::Bearer(&vera), None).await;
    mine.assert_status(StatusCode::OK);
    assert_eq!(mine.json()["username"], "vera");
    app.call(Method::GET, &user_path(other_id), Auth::Bearer(&vera), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
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
