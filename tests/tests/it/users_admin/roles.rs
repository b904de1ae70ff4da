//! Roles and deactivation: taking effect through another instance, and the
//! self and last-admin guards, also under concurrent changes.

use super::*;
use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp};
use serde_json::json;
use std::collections::BTreeMap;

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
