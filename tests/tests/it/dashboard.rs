//! The original KohakuRiver dashboard's requests, sent exactly as it sends
//! them (bodies, no parameters, the same headers), and what it needs from
//! the answers.

use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

const SECRET: Auth<'static> = Auth::AdminSecret(ADMIN_SECRET);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submit_dialogs_nulls_mean_absent() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    // The dialog always sends these four as null when left empty.
    let body = json!({
        "task_type": "command", "command": "python train.py", "arguments": [], "env_vars": {},
        "required_cores": 1, "required_memory_bytes": null, "targets": null, "required_gpus": null,
        "container_name": null, "privileged": null, "additional_mounts": null,
    });
    let created = app.call(Method::POST, "/api/tasks", admin.auth(), Some(&body)).await;
    created.assert_status(StatusCode::ACCEPTED);
    let id = created.json()["task_ids"][0].as_str().expect("id").to_owned();
    let task = app.call(Method::GET, &format!("/api/tasks/{id}"), admin.auth(), None).await.json();
    assert_eq!((task["privileged"].clone(), task["required_gpus"].clone()), (json!(false), json!([])), "{task}");
    assert_eq!(task["additional_mounts"], json!([]), "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invitation_row_has_a_token_the_table_can_cut_and_no_code() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let code = app.invitation_code(admin.auth(), &json!({"role": "user"})).await;
    let rows = app.call(Method::GET, "/api/auth/invitations", admin.auth(), None).await.json();
    let row = &rows[0];
    // The table renders `row.token.substring(0, 16)`.
    let token = row["token"].as_str().expect("every row has a string token");
    assert!(token.ends_with('…') && code.starts_with(token.trim_end_matches('…')), "{token} vs the code");
    assert!(!rows.to_string().contains(&code), "the full code is shown once, at creation only");
}

/// Creates `n` users (as the admin secret) named `{prefix}{i}`.
async fn users(app: &TestApp, prefix: &str, n: usize) {
    for i in 0..n {
        app.create_user_as(SECRET, &format!("{prefix}{i}"), "viewer").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_asked_without_parameters_answer_every_row() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    users(&app, "member", 118).await;
    for _ in 0..103 {
        app.invite(admin.auth(), &json!({"role": "viewer"})).await.assert_status(StatusCode::CREATED);
    }
    // As the dashboard asks: no limit, no cursor; it reads no X-Next-Cursor.
    let all = app.call(Method::GET, "/api/auth/users", admin.auth(), None).await;
    all.assert_status(StatusCode::OK);
    assert_eq!(all.json().as_array().map(Vec::len), Some(119), "the first admin is not cut off");
    assert!(all.header("x-next-cursor").is_none());
    let invitations = app.call(Method::GET, "/api/auth/invitations", admin.auth(), None).await;
    assert_eq!(invitations.json().as_array().map(Vec::len), Some(103));
    // With either parameter, one page as before.
    let page = app.call(Method::GET, "/api/auth/users?limit=100", admin.auth(), None).await;
    assert_eq!(page.json().as_array().map(Vec::len), Some(100));
    let cursor = page.header("x-next-cursor").expect("a cursor").to_owned();
    let rest = app.call(Method::GET, &format!("/api/auth/users?cursor={cursor}"), admin.auth(), None).await;
    assert_eq!(rest.json().as_array().map(Vec::len), Some(19));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vps_status_lists_the_live_vps_in_the_shape_of_the_vps_list() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let vps_body = json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"});
    let running = app.submit_task(admin.auth(), &vps_body).await;
    let assigning = app.submit_task(admin.auth(), &vps_body).await;
    let ended = app.submit_task(admin.auth(), &vps_body).await;
    let command = app.submit_task(admin.auth(), &json!({"command": "train.py"})).await;
    for (id, status) in [(&running, "running"), (&ended, "running"), (&ended, "stopped"), (&command, "running")] {
        let path = format!("/api/tasks/{id}/status");
        app.call(Method::POST, &path, admin.auth(), Some(&json!({"status": status})))
            .await
            .assert_status(StatusCode::OK);
    }

    let live = app.call(Method::GET, "/api/vps/status", admin.auth(), None).await;
    live.assert_status(StatusCode::OK);
    let ids: Vec<String> = live
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["task_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, [assigning.clone(), running.clone()], "live VPS only, newest first");
    // Each entry is what GET /api/vps shows for the same VPS.
    let listed: Vec<Value> =
        app.call(Method::GET, "/api/vps", admin.auth(), None).await.json().as_array().cloned().expect("array");
    let same = |id: &str| listed.iter().find(|e| e["task_id"] == id).cloned();
    assert_eq!(live.json()[1], same(&running).expect("listed"), "the shape of GET /api/vps");
    // Viewers read it as they read GET /api/vps; anonymous callers do not.
    app.call(Method::GET, "/api/vps/status", Auth::None, None).await.assert_status(StatusCode::UNAUTHORIZED);
}

/// A cookie login as the dashboard's Vite dev/preview proxy sends it: the
/// browser's page is `http://localhost:5173`, and the proxy (`changeOrigin:
/// true`) rewrites `Host` to the service's.
async fn login_through_the_proxy(app: &TestApp, name: &str) -> (StatusCode, Option<String>) {
    let answer = app
        .request(Method::POST, "/api/auth/login")
        .header("origin", "http://localhost:5173")
        .header("sec-fetch-site", "same-origin")
        .header("host", "127.0.0.1:8000")
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await;
    (answer.status, answer.session_token())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_dev_proxy_logs_in_once_its_origin_is_allowed() {
    let refused = TestApp::start().await;
    refused.with_user("alice", "user").await;
    let (status, _) = login_through_the_proxy(&refused, "alice").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an origin the service does not know is refused");

    let allowed = TestApp::builder().env("ALLOWED_ORIGINS", "http://localhost:5173").build().await;
    allowed.with_user("alice", "user").await;
    let (status, session) = login_through_the_proxy(&allowed, "alice").await;
    assert_eq!(status, StatusCode::OK);
    // Cookie-authenticated writes through the same proxy pass too.
    let logout = allowed
        .request(Method::POST, "/api/auth/logout")
        .header("origin", "http://localhost:5173")
        .header("host", "127.0.0.1:8000")
        .header("cookie", &format!("kohakuriver_session={}", session.expect("session")))
        .send()
        .await;
    logout.assert_status(StatusCode::OK);
    // A proxy that keeps Host (`changeOrigin: false`) needs no setting at all.
    let kept = allowed
        .request(Method::POST, "/api/auth/login")
        .header("origin", "http://localhost:5173")
        .header("host", "localhost:5173")
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await;
    kept.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_form_with_one_code_field_registers_the_first_admin_with_the_secret() {
    let app = TestApp::start().await;
    // The panels' register forms send whatever code they are given as `invitation_code`.
    let body = json!({"username": "root", "password": PASSWORD, "invitation_code": krv_tests::REGISTER_SECRET});
    let created = app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.json()["user"]["role"], "admin");
    // Once an admin exists the secret makes no more admins, in that field as in the others.
    let again = json!({"username": "root2", "password": PASSWORD, "invitation_code": krv_tests::REGISTER_SECRET});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&again))
        .await
        .assert_error(StatusCode::FORBIDDEN, "admin_exists");
}
