//! The admin group: audit log queries, statistics, configuration.

use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, REGISTER_SECRET, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_pages_and_runs_newest_first() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    for i in 0..5 {
        let wrong = json!({"username": "admin", "password": format!("wrong-{i}-password")});
        app.call(Method::POST, "/api/auth/login", Auth::None, Some(&wrong)).await;
    }
    let auth = Auth::Bearer(&admin);
    let all = app.call(Method::GET, "/api/admin/audit", auth, None).await;
    all.assert_status(StatusCode::OK);
    let events = all.json();
    let events = events.as_array().expect("array");
    let times: Vec<&str> = events.iter().filter_map(|e| e["at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    // Filter by action, two at a time, following the cursor.
    let mut seen = Vec::new();
    let mut path = "/api/admin/audit?action=auth.login&limit=2".to_owned();
    loop {
        let page = app.call(Method::GET, &path, auth, None).await;
        page.assert_status(StatusCode::OK);
        let items = page.json();
        for e in items.as_array().expect("array") {
            assert_eq!(e["action"], "auth.login");
            seen.push(e["id"].as_str().unwrap_or_default().to_owned());
        }
        match page.header("x-next-cursor") {
            Some(cursor) => path = format!("/api/admin/audit?action=auth.login&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "five failed logins");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "pages overlap");

    // By actor, and by time window.
    let by_admin = app.call(Method::GET, "/api/admin/audit?actor=admin", auth, None).await.json();
    assert!(by_admin.as_array().expect("array").iter().all(|e| e["actor"] == "admin"));
    assert!(!by_admin.as_array().expect("array").is_empty());
    let future = app
        .call(Method::GET, "/api/admin/audit?since=2999-01-01T00:00:00Z&until=2999-12-31T00:00:00Z", auth, None)
        .await
        .json();
    assert_eq!(future, json!([]));
    app.call(Method::GET, "/api/admin/audit?since=yesterday", auth, None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.call(Method::GET, "/api/admin/audit?since=2026-12-01T00:00:00Z&until=2026-01-01T00:00:00Z", auth, None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_users_by_role_and_live_sessions() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "vic1", "viewer").await;
    app.create_user(&admin, "vic2", "viewer").await;
    app.create_user(&admin, "oli1", "operator").await;
    app.login("vic1").await;
    let stats = app.call(Method::GET, "/api/admin/stats", Auth::AdminSecret(ADMIN_SECRET), None).await;
    stats.assert_status(StatusCode::OK);
    let stats = stats.json();
    assert_eq!(stats["users"]["total"], 4);
    assert_eq!(stats["users"]["by_role"], json!({"viewer": 2, "user": 0, "operator": 1, "admin": 1}));
    assert_eq!(stats["users"]["active_admins"], 1);
    assert_eq!(stats["active_sessions"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_shows_settings_with_every_secret_masked() {
    let app = TestApp::start().await;
    let response = app.call(Method::GET, "/api/admin/config", Auth::AdminSecret(ADMIN_SECRET), None).await;
    response.assert_status(StatusCode::OK);
    let config: Value = response.json();
    assert_eq!(config["session_expire_hours"], 24);
    assert_eq!(config["admin_secret"], "********");
    let text = config.to_string();
    assert!(!text.contains(ADMIN_SECRET) && !text.contains(REGISTER_SECRET) && !text.contains(PASSWORD));
    let key = app.state.config.session_signing_key.as_ref().map(secrecy::ExposeSecret::expose_secret).expect("key");
    assert!(!text.contains(key));
}
