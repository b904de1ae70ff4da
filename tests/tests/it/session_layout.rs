//! Sessions stored before Redis keys carried their user's hash tag
//! (`sess:<hash>`, `usess:<user id>`) keep working after the upgrade and move
//! to the current layout on first use; ending a user's sessions ends them too.
//! (Single-node only: the old layout predates Redis Cluster support.)

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use shared::crypto::sha256_hex;

/// Moves the session of `token` (of user `user_id`) back into the old layout,
/// as a server before the upgrade left it; answers its hash.
async fn to_legacy_layout(app: &TestApp, token: &str, user_id: u64) -> String {
    let claims = app.state.keys.sessions.verify(token).expect("a valid session token");
    let hash = sha256_hex(&claims.sid);
    let redis = &app.state.stores.redis;
    let key = |name: String| redis.key(&name);
    let new_key = key(format!("sess:{}:{hash}", shared::db::keys::user_tag(user_id)));
    let new_index = key(format!("usess:{}", shared::db::keys::user_tag(user_id)));
    let (old_key, old_index) = (key(format!("sess:{hash}")), key(format!("usess:{user_id}")));
    let mut pipe = redis::pipe();
    pipe.cmd("RENAME").arg(&new_key).arg(&old_key).ignore();
    pipe.cmd("ZREM").arg(&new_index).arg(&hash).ignore();
    pipe.cmd("ZADD").arg(&old_index).arg(i64::MAX / 2).arg(&hash).ignore();
    redis.pipeline::<()>(&pipe).await.expect("moved to the old layout");
    let exists: i64 = redis.query(redis::cmd("EXISTS").arg(&new_key)).await.expect("EXISTS");
    assert_eq!(exists, 0);
    hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_from_before_the_upgrade_works_and_moves_to_the_new_layout() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "old", "user").await;
    let session = app.login("old").await;
    let hash = to_legacy_layout(&app, &session, id).await;

    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.assert_status(StatusCode::OK);
    let redis = &app.state.stores.redis;
    let old: i64 = redis.query(redis::cmd("EXISTS").arg(redis.key(&format!("sess:{hash}")))).await.expect("EXISTS");
    assert_eq!(old, 0, "the old key is gone once moved");
    // Moved, it is listed and costs what any session costs.
    let listed = app.call(Method::GET, "/api/auth/sessions", Auth::Cookie(&session), None).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let before = app.state.stores.io.snapshot();
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.assert_status(StatusCode::OK);
    assert_eq!((app.state.stores.io.snapshot() - before).redis_round_trips, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_users_sessions_ends_those_from_before_the_upgrade() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "old", "user").await;
    let session = app.login("old").await;
    to_legacy_layout(&app, &session, id).await;

    let ended = app.call(Method::DELETE, &format!("/api/auth/users/{id}/sessions"), Auth::Bearer(&admin), None).await;
    ended.assert_status(StatusCode::OK);
    assert_eq!(ended.json()["sessions_ended"], 1, "{}", ended.json());
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.assert_status(StatusCode::UNAUTHORIZED);
}
