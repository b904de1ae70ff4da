//! The panel's overview and an admin's view of a user's sessions: the login
//! activity counters and `GET`/`DELETE /api/auth/users/{id}/sessions[/{session_id}]`.

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

fn totals(buckets: &Value, field: &str) -> u64 {
    buckets.as_array().expect("array").iter().map(|b| b[field].as_u64().expect("count")).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_counts_logins_and_failures_per_hour_and_day() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "oli", "operator").await;
    for _ in 0..3 {
        app.login("oli").await;
    }
    app.login_attempt("oli", "not-the-password", "10.0.0.7").await.assert_status(StatusCode::UNAUTHORIZED);
    app.login_attempt("nobody", PASSWORD, "10.0.0.8").await.assert_status(StatusCode::UNAUTHORIZED);
    let operator = app.login("oli").await;

    let answer = app.call(Method::GET, "/api/admin/activity", Auth::Bearer(&operator), None).await;
    answer.assert_status(StatusCode::OK);
    let activity = answer.json();
    let (hourly, daily) = (&activity["hourly"], &activity["daily"]);
    assert_eq!(hourly.as_array().expect("array").len(), 24);
    assert_eq!(daily.as_array().expect("array").len(), 30);
    // The first admin registered (no login); then four logins and two refusals.
    assert_eq!(totals(hourly, "logins"), 4);
    assert_eq!(totals(hourly, "failed_logins"), 2);
    assert_eq!(totals(daily, "logins"), 4);
    assert_eq!(totals(daily, "failed_logins"), 2);
    let last = &hourly[23];
    assert_eq!((last["logins"].as_u64(), last["failed_logins"].as_u64()), (Some(4), Some(2)), "in the current hour");
    let starts: Vec<&str> = hourly.as_array().expect("array").iter().filter_map(|b| b["start"].as_str()).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "oldest first");
    assert!(daily[29]["start"].as_str().expect("start").ends_with("T00:00:00Z"));

    // Operators read the stats too; viewers neither.
    app.call(Method::GET, "/api/admin/stats", Auth::Bearer(&operator), None).await.assert_status(StatusCode::OK);
    app.create_user(&admin, "vic", "viewer").await;
    let viewer = app.login("vic").await;
    app.call(Method::GET, "/api/admin/activity", Auth::Bearer(&viewer), None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

/// Counters written before Redis keys carried hash tags still show, added to
/// the current ones, so an upgrade keeps the charts' history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_from_before_the_upgrade_still_shows() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "oli", "operator").await;
    let operator = app.login("oli").await;
    let redis = &app.state.stores.redis;
    let now = shared::types::Timestamp::now().millis();
    let (hour, day) = (now.div_euclid(3_600_000), now.div_euclid(86_400_000));
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg(redis.key(&format!("act:ok:h:{}", hour - 2))).arg(5).arg("EX").arg(3600).ignore();
    pipe.cmd("SET").arg(redis.key(&format!("act:fail:d:{day}"))).arg(7).arg("EX").arg(3600).ignore();
    redis.pipeline::<()>(&pipe).await.expect("old counters");

    let activity = app.call(Method::GET, "/api/admin/activity", Auth::Bearer(&operator), None).await.json();
    assert_eq!(activity["hourly"][21]["logins"], 5, "{activity}");
    assert_eq!(activity["hourly"][23]["logins"], 1, "the login since, in its own counter");
    assert_eq!(activity["daily"][29]["failed_logins"], 7);
    assert_eq!(activity["daily"][29]["logins"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_lists_and_ends_a_users_sessions() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "uma", "user").await;
    let first = app.login("uma").await;
    let second = app.login("uma").await;
    let third = app.login("uma").await;
    let path = format!("/api/auth/users/{id}/sessions");

    let listed = app.call(Method::GET, &path, Auth::Bearer(&admin), None).await;
    listed.assert_status(StatusCode::OK);
    let listed = listed.json();
    let sessions = listed.as_array().expect("array");
    assert_eq!(sessions.len(), 3);
    assert!(sessions.iter().all(|s| s["client"] == "127.0.0.1" && s["user_agent"].is_string() && s["id"].is_string()));
    assert!(sessions[0].get("current").is_none());

    // End the oldest: that cookie stops working, the others live on.
    let oldest = sessions[0]["id"].as_str().expect("id").to_owned();
    let ended = app.call(Method::DELETE, &format!("{path}/{oldest}"), Auth::Bearer(&admin), None).await;
    ended.assert_status(StatusCode::OK);
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&first), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&second), None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &format!("{path}/{oldest}"), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, &path, Auth::Bearer(&admin), None).await.json().as_array().map(Vec::len), Some(2));

    // Both are audited.
    let audit =
        app.call(Method::GET, "/api/admin/audit?action=session.revoke", Auth::Bearer(&admin), None).await.json();
    let event = &audit[0];
    assert_eq!(event["actor"], "admin");
    assert_eq!(event["target"], json!(format!("user:{id} uma")));

    // End all.
    let all = app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await;
    all.assert_status(StatusCode::OK);
    assert_eq!(all.json()["sessions_ended"], 2);
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&third), None).await.assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(Method::GET, &path, Auth::Bearer(&admin), None).await.json(), json!([]));

    // Another admin's user id that does not exist: 404.
    app.call(Method::GET, "/api/auth/users/999999/sessions", Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
