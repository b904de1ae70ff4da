//! Activity stamps (`last_used_at`, `last_seen_at`) during a DynamoDB hang.
//!
//! Once a minute per token and per user an authenticated request also writes
//! when it was last used or seen. Those writes are best effort; they must not
//! make a request wait out a hung DynamoDB before doing its own work, or a
//! request whose stamps are due answers after two or three store timeouts
//! instead of within the promised 2 s. The load test in `faults.rs` seldom
//! meets a due stamp during its outages (they fall due once a minute), so this
//! test makes them due on purpose.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use shared::crypto::sha256_hex;

const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Clears the once-a-minute markers, as if a minute had passed since the last
/// stamp: the next request with `token` (if given) and of `user_id` stamps.
async fn make_stamps_due(app: &TestApp, user_id: u64, token: Option<&str>) {
    let redis = &app.state.stores.redis;
    let mut del = redis::cmd("DEL");
    del.arg(shared::sessions::seen_key(redis, user_id));
    redis.query::<i64>(&del).await.expect("markers cleared");
    if let Some(token) = token {
        let owner = shared::tokens::owner_of(token).expect("a new token names its owner");
        let mut del = redis::cmd("DEL");
        del.arg(shared::tokens::used_key(redis, owner, &sha256_hex(token)));
        redis.query::<i64>(&del).await.expect("markers cleared");
    }
}

/// Sends `path` with `auth`; asserts the status and that it came in time.
async fn timed(app: &TestApp, path: &str, auth: Auth<'_>, expected: StatusCode, what: &str) {
    let started = Instant::now();
    let response = app.call(Method::GET, path, auth, None).await;
    let took = started.elapsed();
    response.assert_status(expected);
    if expected == StatusCode::SERVICE_UNAVAILABLE {
        assert!(response.header("retry-after").is_some(), "503 without Retry-After");
    }
    assert!(took < ANSWER_WITHIN, "{what} with its stamps due took {took:?} while DynamoDB hung");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_activity_stamps_do_not_hold_requests_while_dynamodb_hangs() {
    // The production store timeout: the bound is about the deployed settings.
    let app = TestApp::builder().envs(&[("STORE_TIMEOUT_MS", "1500")]).build().await;
    let session = app.first_admin("boss").await;
    let (token, _) = app.create_token(&session, "ci").await;
    // Warm both credentials: the token, the session and the user are cached in Redis.
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await;
    me.assert_status(StatusCode::OK);
    let user_id = me.json()["id"].as_u64().expect("user id");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&session), None).await.assert_status(StatusCode::OK);

    app.stack.lock().await.hang_dynamo().await.expect("dynamodb hangs");
    for (what, auth, token) in
        [("a token", Auth::Bearer(&token), Some(token.as_str())), ("a session", Auth::Bearer(&session), None)]
    {
        // Warm credentials still authenticate from Redis alone…
        make_stamps_due(&app, user_id, token).await;
        timed(&app, "/api/auth/me", auth, StatusCode::OK, &format!("/me with {what}")).await;
        // …and a request that needs DynamoDB fails within the bound, stamps and all.
        make_stamps_due(&app, user_id, token).await;
        timed(&app, "/api/auth/users", auth, StatusCode::SERVICE_UNAVAILABLE, &format!("the user list with {what}"))
            .await;
    }
    app.stack.lock().await.unhang_dynamo().await.expect("dynamodb answers again");
}
