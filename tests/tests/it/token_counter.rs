//! The per-user token cap's counter, for users whose tokens predate it.

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};

/// The user's token counter as stored (`None` when there is none).
async fn counter(app: &TestApp, user_id: u64) -> Option<i64> {
    let stores = &app.state.stores;
    let key = shared::db::item::key(format!("TOKENCOUNT#{user_id}"), "COUNT");
    let out = stores.dynamo.get_item().table_name(&stores.tables.tokens).set_key(Some(key)).send().await.expect("read");
    out.item().and_then(|i| i.get("count")).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

async fn forget_counter(app: &TestApp, user_id: u64) {
    let stores = &app.state.stores;
    let key = shared::db::item::key(format!("TOKENCOUNT#{user_id}"), "COUNT");
    stores.dynamo.delete_item().table_name(&stores.tables.tokens).set_key(Some(key)).send().await.expect("delete");
    assert_eq!(counter(app, user_id).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_older_than_the_counter_are_counted_before_a_revocation_or_a_creation_uses_it() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.json();
    let id = me["id"].as_u64().expect("id");
    let (_, first) = app.create_token(&admin, "one").await;
    app.create_token(&admin, "two").await;
    app.create_token(&admin, "three").await;
    assert_eq!(counter(&app, id).await, Some(3));

    // As before the counter existed: three tokens, no counter. Revoking one
    // first counts what the user holds, then counts the revocation (it went
    // to -1 before, leaving room for 101 tokens).
    forget_counter(&app, id).await;
    let path = format!("/api/auth/tokens/{first}");
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    assert_eq!(counter(&app, id).await, Some(2));

    // A creation does the same (it started again from one before).
    forget_counter(&app, id).await;
    app.create_token(&admin, "four").await;
    assert_eq!(counter(&app, id).await, Some(3));
}
