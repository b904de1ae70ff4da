//! API tokens: the product page's flow, the original CLI's login sequence,
//! expiry, suspension, revocation everywhere, and a hot path that needs no
//! DynamoDB.

use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_use_and_revoke_a_token_with_effect_on_another_instance() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;

    let created = app
        .call(Method::POST, "/api/auth/tokens", Auth::Bearer(&admin), Some(&json!({"name": "my-script-token"})))
        .await;
    created.assert_status(StatusCode::CREATED);
    let body = created.json();
    let token = body["token"].as_str().expect("token shown once").to_owned();
    let id = body["id"].as_u64().expect("integer id");
    assert!(token.starts_with("krv_") && token.len() >= 4 + 43, "{token}");
    assert_eq!(body["name"], "my-script-token");
    assert_eq!(body["expires_at"], Value::Null, "no expiry unless asked");

    let listed = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&admin), None).await.json();
    let entry = &listed.as_array().expect("array")[0];
    assert_eq!(entry["id"], id);
    assert_eq!(entry["name"], "my-script-token");
    assert!(token.starts_with(entry["prefix"].as_str().expect("prefix")));
    assert!(entry.get("token").is_none(), "the list never shows the token");
    assert!(!listed.to_string().contains(&token));

    let me = other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["auth_method"], "api_token");
    assert_eq!(me.json()["username"], "admin");

    let revoked = app.call(Method::DELETE, &format!("/api/auth/tokens/{id}"), Auth::Bearer(&admin), None).await;
    revoked.assert_status(StatusCode::OK);
    assert_eq!(revoked.json()["message"], "Token 'my-script-token' revoked");
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::DELETE, &format!("/api/auth/tokens/{id}"), Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_cli_login_sequence_works() {
    let app = TestApp::start().await;
    app.first_admin("admin").await;
    // 1. Log in and read the session cookie from the response.
    let login = app
        .call(Method::POST, "/api/auth/login", Auth::None, Some(&json!({"username": "admin", "password": PASSWORD})))
        .await;
    login.assert_status(StatusCode::OK);
    assert_eq!(login.json()["user"]["role"], "admin");
    let cookie = login.session_token().expect("kohakuriver_session cookie");
    // 2. Create a token with that cookie (no Origin header: a non-browser client).
    let created = app
        .call(Method::POST, "/api/auth/tokens/create", Auth::Cookie(&cookie), Some(&json!({"name": "cli-auto"})))
        .await;
    assert_eq!(created.status, StatusCode::OK, "the original CLI expects 200");
    let body = created.json();
    assert!(body["id"].is_u64(), "ids are JSON integers: {body}");
    for field in ["name", "token", "created_at"] {
        assert!(body[field].is_string(), "{field}: {body}");
    }
    let token = body["token"].as_str().expect("token").to_owned();
    // 3. Who am I, with the token.
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await;
    me.assert_status(StatusCode::OK);
    assert!(me.json()["id"].is_u64());
    // `auth token list` reads id, name, last_used, created_at.
    let list = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&token), None).await.json();
    let entry = &list[0];
    assert!(entry["id"].is_u64() && entry["name"].is_string() && entry["created_at"].is_string());
    assert!(entry.get("last_used").is_some());
    // 4. `auth logout --revoke`: 200, then 404.
    let path = format!("/api/auth/tokens/{}", body["id"]);
    assert_eq!(app.call(Method::DELETE, &path, Auth::Bearer(&token), None).await.status, StatusCode::OK);
    app.call(Method::DELETE, &path, Auth::Bearer(&cookie), None).await.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_per_user_and_validated() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "other", "user").await;
    let other = app.login("other").await;
    app.create_token(&admin, "deploy").await;
    app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&admin), Some(&json!({"name": "DEPLOY"})))
        .await
        .assert_error(StatusCode::CONFLICT, "token_name_taken");
    app.create_token(&other, "deploy").await;
    for bad in
        [json!({"name": ""}), json!({"name": "x".repeat(101)}), json!({"name": "a", "expires_in_days": 0}), json!({})]
    {
        app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&admin), Some(&bad))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let expiring = app
        .call(
            Method::POST,
            "/api/auth/tokens",
            Auth::Bearer(&admin),
            Some(&json!({"name": "short", "expires_in_days": 7})),
        )
        .await;
    expiring.assert_status(StatusCode::CREATED);
    assert!(expiring.json()["expires_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_and_the_system_admin_cannot_create_tokens() {
    let app = TestApp::start().await;
    app.call(Method::POST, "/api/auth/tokens/create", Auth::None, Some(&json!({"name": "x"})))
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::POST, "/api/auth/tokens", Auth::AdminSecret(ADMIN_SECRET), Some(&json!({"name": "x"})))
        .await
        .assert_error(StatusCode::FORBIDDEN, "no_tokens");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer("krv_not-a-real-token"), None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let created = app
        .call(
            Method::POST,
            "/api/auth/tokens",
            Auth::Bearer(&admin),
            Some(&json!({"name": "soon", "expires_in_days": 1})),
        )
        .await
        .json();
    let token = created["token"].as_str().expect("token").to_owned();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);

    // Move the expiry into the past in the table and drop the cached copy, as a day passing would.
    let hash = shared::crypto::sha256_hex(&token);
    let stores = &app.state.stores;
    stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.tokens)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("TOKEN#{hash}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("TOKEN".into()))
        .update_expression("SET expires_at_ms = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::N("1000".into()))
        .send()
        .await
        .expect("update");
    let mut del = redis::cmd("DEL");
    let owner = shared::tokens::owner_of(&token).expect("a new token names its owner");
    del.arg(shared::tokens::cache_key(&stores.redis, owner, &hash));
    stores.redis.query::<i64>(&del).await.expect("DEL");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_follows_its_owners_role_and_activity_at_once() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "ops", "operator").await;
    let session = app.login("ops").await;
    let (token, _) = app.create_token(&session, "automation").await;
    other.call(Method::GET, "/api/auth/users", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);

    // Demotion: the token loses the operator role on the next request.
    app.call(
        Method::PUT,
        &format!("/api/auth/users/{id}/role"),
        Auth::Bearer(&admin),
        Some(&json!({"role": "viewer"})),
    )
    .await
    .assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/users", Auth::Bearer(&token), None).await.assert_status(StatusCode::FORBIDDEN);

    // Deactivation suspends the token; reactivation restores it (sessions stay ended).
    let path = format!("/api/auth/users/{id}");
    app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"is_active": false})))
        .await
        .assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"is_active": true})))
        .await
        .assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);

    // Deletion revokes it for good, and the tokens are gone.
    let listed = app.call(Method::GET, &format!("{path}/tokens"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let deleted = app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await;
    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.json()["tokens_revoked"], 1);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
    // A newcomer with the same name inherits nothing.
    app.create_user(&admin, "ops", "operator").await;
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
    let newcomer = app.login("ops").await;
    let mine = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&newcomer), None).await.json();
    assert_eq!(mine, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_or_an_admin_revokes_and_admins_list_anyones_tokens() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "alice", "user").await;
    app.create_user(&admin, "bob", "operator").await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (_, alice_token) = app.create_token(&alice, "laptop").await;
    let path = format!("/api/auth/tokens/{alice_token}");
    app.call(Method::DELETE, &path, Auth::Bearer(&bob), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    let audit = app.call(Method::GET, "/api/admin/audit?action=token.revoke", Auth::Bearer(&admin), None).await.json();
    assert_eq!(audit[0]["actor"], "admin");
    assert!(audit[0]["target"].as_str().is_some_and(|t| t.contains("laptop")));
    let created =
        app.call(Method::GET, "/api/admin/audit?action=token.create", Auth::Bearer(&admin), None).await.json();
    assert_eq!(created[0]["actor"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_tokens_and_sessions_authenticate_without_dynamodb() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let (token, _) = app.create_token(&admin, "hot").await;
    // First uses fill the caches and stamp last_used/last_seen (DynamoDB writes).
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    app.stack.lock().await.dynamo.stop().await;
    // With DynamoDB gone, further requests within the minute neither read nor write it.
    for _ in 0..3 {
        app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
        app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    }
    app.stack.lock().await.dynamo.restart().await.expect("restart");
    let list = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&admin), None).await.json();
    assert!(list[0]["last_used_at"].is_string(), "last use recorded: {list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_store_holds_a_usable_token() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let (token, _) = app.create_token(&admin, "secret-one").await;
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
    let mut dump = String::new();
    for table in app.state.stores.tables.all() {
        dump.push_str(&format!("{:?}", app.scan(table).await));
    }
    let mut keys_cmd = redis::cmd("KEYS");
    keys_cmd.arg("*");
    let keys: Vec<String> = app.state.stores.redis.query(&keys_cmd).await.expect("KEYS");
    for key in &keys {
        let mut dump_cmd = redis::cmd("DUMP");
        dump_cmd.arg(key);
        let raw: Vec<u8> = app.state.stores.redis.query(&dump_cmd).await.expect("DUMP");
        dump.push_str(key);
        dump.push_str(&String::from_utf8_lossy(&raw));
    }
    assert!(dump.contains(&shared::crypto::sha256_hex(&token)), "the hash is what is kept");
    let secret_part = token.trim_start_matches("krv_");
    assert!(!dump.contains(secret_part), "a store holds the token itself");
}

/// What one `GET /api/auth/me` with `token` costs: (status, Redis round trips, DynamoDB calls).
async fn me_cost(app: &TestApp, token: &str) -> (StatusCode, u64, u64) {
    let before = app.state.stores.io.snapshot();
    let status = app.call(Method::GET, "/api/auth/me", Auth::Bearer(token), None).await.status;
    let io = app.state.stores.io.snapshot() - before;
    (status, io.redis_round_trips, io.dynamo_calls)
}

/// A token of the current shape with a correct checksum that was never issued.
/// A token of the current shape, naming user 1, that was never issued.
fn unissued_token() -> String {
    use shared::crypto::{base62, crc32, random_token};
    let body = format!("krv_1_{}", random_token(32));
    format!("{body}{}", base62(u64::from(crc32(body.as_bytes())), 6))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_tokens_are_refused_before_any_store_call() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let (token, _) = app.create_token(&admin, "real").await;
    let owner = shared::tokens::owner_of(&token).expect("a new token names its owner");
    assert_eq!(
        token.len(),
        format!("krv_{owner}_").len() + 43 + 6,
        "prefix, owner, 32 random bytes, a 6-character checksum: {token}"
    );
    assert_eq!(me_cost(&app, &token).await.0, StatusCode::OK);

    // One character of the checksum, or of the random part, changed.
    let flip = |i: usize| {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ascii")
    };
    let malformed = [
        "krv_not-a-real-token".to_owned(),
        format!("{token}0"),
        token[..token.len() - 1].to_owned(),
        flip(token.len() - 1),
        flip(10),
        format!("krv_{}", "A".repeat(49)),
    ];
    for bad in &malformed {
        assert_eq!(me_cost(&app, bad).await, (StatusCode::UNAUTHORIZED, 0, 0), "{bad}");
    }

    // A well-formed token that was never issued: one DynamoDB read, and its
    // "no such token" entry is short-lived; repeating it costs Redis only.
    let unknown = unissued_token();
    let (status, _, dynamo) = me_cost(&app, &unknown).await;
    assert_eq!((status, dynamo), (StatusCode::UNAUTHORIZED, 1));
    assert_eq!(me_cost(&app, &unknown).await, (StatusCode::UNAUTHORIZED, 1, 0));
    let mut ttl = redis::cmd("TTL");
    ttl.arg(shared::tokens::cache_key(&app.state.stores.redis, 1, &shared::crypto::sha256_hex(&unknown)));
    let left: i64 = app.state.stores.redis.query(&ttl).await.expect("TTL");
    assert!((1..=60).contains(&left), "a negative entry lives at most a minute, not {left} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_the_legacy_shape_still_authenticates_and_revokes() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::crypto::{random_token, sha256_hex};

    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let (token, id) = app.create_token(&admin, "old-script").await;
    // Rewrite the stored token as if it had been issued before checksums:
    // `krv_` and 43 base64url characters, nothing after.
    let legacy = format!("krv_{}", random_token(32));
    assert_eq!(legacy.len(), 47);
    let (old_hash, new_hash) = (sha256_hex(&token), sha256_hex(&legacy));
    let dynamo = &app.state.stores.dynamo;
    let table = &app.state.stores.tables.tokens;
    let key = |pk: String, sk: &str| {
        std::collections::HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    };
    let mut item = dynamo
        .get_item()
        .table_name(table)
        .set_key(Some(key(format!("TOKEN#{old_hash}"), "TOKEN")))
        .send()
        .await
        .expect("get")
        .item
        .expect("the token's item");
    item.insert("pk".into(), AttributeValue::S(format!("TOKEN#{new_hash}")));
    item.insert("hash".into(), AttributeValue::S(new_hash.clone()));
    dynamo.put_item().table_name(table).set_item(Some(item)).send().await.expect("put");
    dynamo
        .delete_item()
        .table_name(table)
        .set_key(Some(key(format!("TOKEN#{old_hash}"), "TOKEN")))
        .send()
        .await
        .expect("delete");
    let owner = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.json()["id"].clone();
    for (pk, sk) in [(format!("TOKENID#{id}"), "TOKENID"), (format!("TOKENNAME#{owner}#old-script"), "TOKENNAME")] {
        dynamo
            .update_item()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET #h = :h")
            .expression_attribute_names("#h", "hash")
            .expression_attribute_values(":h", AttributeValue::S(new_hash.clone()))
            .send()
            .await
            .expect("update");
    }

    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&legacy), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["auth_method"], "api_token");
    // Warm, it costs one round trip more than a token that names its owner
    // (the owner is looked up first: see shared/src/tokens/cache.rs), and no DynamoDB.
    assert_eq!(me_cost(&app, &legacy).await, (StatusCode::OK, 2, 0));
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::DELETE, &format!("/api/auth/tokens/{id}"), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&legacy), None).await.assert_status(StatusCode::UNAUTHORIZED);
}
