//! What each user, session, token and audit event really costs in storage: the
//! numbers behind the scaling and cost section of docs/deploy.md. Items are
//! measured in the stores after real requests, with DynamoDB's item-size rules
//! and Redis's own `MEMORY USAGE`; the bounds asserted are the ones the
//! document's arithmetic uses, so a model change that grows them fails here.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use serde_json::json;

/// DynamoDB's size of a value: strings and binaries by bytes, numbers about one
/// byte per two significant digits plus one, containers 3 bytes plus 1 per element.
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            n.trim_start_matches('-').replace('.', "").trim_start_matches('0').len().div_ceil(2) + 1
        }
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum::<usize>(),
        _ => 1,
    }
}

fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// Every item of `table`, summed by the kind of its partition key (`USER`,
/// `USERNAME`, …): (count, bytes).
async fn dynamo_sizes(app: &TestApp, table: &str) -> BTreeMap<String, (usize, usize)> {
    let mut sizes = BTreeMap::new();
    for item in app.scan(table).await {
        let kind = match item.get("pk") {
            Some(AttributeValue::S(pk)) => pk.split('#').next().unwrap_or_default().to_owned(),
            _ => "?".to_owned(),
        };
        let entry = sizes.entry(kind).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += item_size(&item);
    }
    sizes
}

/// Every Redis key under the app's prefix, summed by kind (`sess`, `usess`,
/// `user`, `tok`, …): (count, bytes as `MEMORY USAGE` reports).
async fn redis_sizes(app: &TestApp) -> BTreeMap<String, (usize, usize)> {
    let redis = &app.state.stores.redis;
    let prefix = redis.key("");
    let keys: Vec<String> = redis.query(redis::cmd("KEYS").arg(format!("{prefix}*"))).await.expect("KEYS");
    let mut sizes = BTreeMap::new();
    for key in keys {
        let bytes: usize = redis.query(redis::cmd("MEMORY").arg("USAGE").arg(&key)).await.expect("MEMORY USAGE");
        let kind = key.trim_start_matches(&prefix).split(':').next().unwrap_or_default().to_owned();
        let entry = sizes.entry(kind).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += bytes;
    }
    sizes
}

fn per_item(sizes: &BTreeMap<String, (usize, usize)>, kind: &str) -> usize {
    let (count, bytes) = sizes.get(kind).copied().unwrap_or_else(|| panic!("no {kind} items in {sizes:?}"));
    bytes / count
}

const USERS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_a_session_and_a_token_stays_within_the_documented_bytes() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    for i in 0..USERS {
        // Usernames and display names of a realistic length.
        let name = format!("researcher-{i:04}");
        let body = json!({"username": name, "password": krv_tests::PASSWORD, "role": "user",
                          "display_name": format!("Research Person {i}")});
        let created = app.call(Method::POST, "/api/auth/register", Auth::Bearer(&admin), Some(&body)).await;
        created.assert_status(StatusCode::CREATED);
        let session = app.login(&name).await;
        app.create_token(&session, "ci-runner").await;
        app.call(Method::GET, "/api/auth/me", Auth::Bearer(&session), None).await.assert_status(StatusCode::OK);
    }

    let tables = &app.state.stores.tables;
    let identity = dynamo_sizes(&app, &tables.identity).await;
    let tokens = dynamo_sizes(&app, &tables.tokens).await;
    let audit = dynamo_sizes(&app, &tables.audit).await;
    let redis = redis_sizes(&app).await;
    eprintln!("identity: {identity:?}\ntokens: {tokens:?}\naudit: {audit:?}\nredis: {redis:?}");

    let user = per_item(&identity, "USER") + per_item(&identity, "USERNAME");
    let token = tokens.values().map(|(_, b)| b).sum::<usize>() / USERS;
    let event = per_item(&audit, audit.keys().next().expect("audit events"));
    // A session's record, its entry in the user's session index, last-seen stamp.
    let session = per_item(&redis, "sess") + per_item(&redis, "usess") + per_item(&redis, "useen");
    let cached_user = per_item(&redis, "user");
    eprintln!(
        "per user: DynamoDB {user} B, token {token} B, audit event {event} B; Redis session {session} B, cached user {cached_user} B"
    );
    // The bounds docs/deploy.md's cost arithmetic uses (DynamoDB bills another
    // 100 bytes of overhead per item on top of these).
    assert!(user <= 600, "a user and its username reservation take {user} B");
    assert!(token <= 700, "an API token takes {token} B");
    assert!(event <= 550, "an audit event takes {event} B");
    assert!(session <= 800, "a session takes {session} B in Redis");
    assert!(cached_user <= 450, "a cached user takes {cached_user} B in Redis");
}
