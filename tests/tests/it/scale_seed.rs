//! The scale scenario's seeding (`bench/src/scale.rs`): what it writes in
//! batches is what the service reads, and everything the service keeps
//! consistent around users and tokens is right afterwards.

use std::collections::BTreeSet;

use http::{Method, StatusCode};
use krv_bench::scale::{self, PASSWORD, Plan};
use krv_tests::{Auth, TestApp};
use serde_json::json;
use shared::sessions;
use shared::tokens;
use shared::types::Role;
use shared::users;

const PLAN: Plan = Plan { users: 30, sessions: 90, tokens: 75, sample: 6 };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_users_sessions_and_tokens_work_and_keep_the_stores_consistent() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let seeded = scale::seed(&app.state, &PLAN).await.expect("seeding");
    let stores = &app.state.stores;
    assert_eq!(seeded.sessions.len(), PLAN.sample);
    assert_eq!(seeded.tokens.len(), PLAN.sample);
    assert_eq!(seeded.usernames.len(), PLAN.sample);
    let (low, high) = seeded.user_ids;
    assert_eq!(high - low + 1, PLAN.users as u64, "ids are contiguous");
    assert!(low > admin.id);

    // A seeded session's keys expire with it, and the user's index lists
    // the user's sessions (three each: 90 over 30 users).
    let per_user = PLAN.sessions / PLAN.users;
    let session = &seeded.sessions[0];
    let claims = app.state.keys.sessions.verify(session).expect("a session token");
    let user_id: u64 = claims.sub.parse().expect("user id");
    let hash = shared::crypto::sha256_hex(&claims.sid);
    let redis = &stores.redis;
    let lifetime_ms = i64::from(app.state.config.session_lifetime_secs) * 1000;
    for key in [sessions::session_key(redis, user_id, &hash), sessions::index_key(redis, user_id)] {
        let ttl: i64 = redis.query(redis::cmd("PTTL").arg(&key)).await.expect("PTTL");
        assert!(ttl > 0 && ttl <= lifetime_ms, "{key}: {ttl}");
    }
    let listed = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(session), None).await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.json().as_array().expect("array").len(), per_user);
    let ended = app.call(Method::DELETE, "/api/auth/sessions", Auth::Bearer(session), None).await;
    ended.assert_status(StatusCode::OK);
    assert_eq!(ended.json()["sessions_ended"], per_user as u64 - 1);

    // Sampled users log in with the password, and their sessions and tokens
    // authenticate as a seeded user.
    for name in &seeded.usernames {
        let login = app.login_attempt(name, PASSWORD, "127.0.0.1").await;
        login.assert_status(StatusCode::OK);
        assert_eq!(login.json()["user"]["username"], name.as_str());
    }
    for session in &seeded.sessions {
        let me = app.call(Method::GET, "/api/auth/me", Auth::Cookie(session), None).await;
        me.assert_status(StatusCode::OK);
        let id = me.json()["id"].as_u64().expect("id");
        assert!((low..=high).contains(&id), "{id}");
    }
    let mut token_owners = BTreeSet::new();
    for token in &seeded.tokens {
        let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(token), None).await;
        me.assert_status(StatusCode::OK);
        assert_eq!(me.json()["auth_method"], "api_token");
        token_owners.insert(me.json()["id"].as_u64().expect("id"));
    }
    assert!(token_owners.len() > 1, "the sample spreads over users");

    // The counters: role counts and live sessions as the service keeps them,
    // the admin count untouched.
    let stats = app.call(Method::GET, "/api/admin/stats", admin.auth(), None).await.json();
    assert_eq!(stats["users"]["total"], PLAN.users as u64 + 1);
    assert_eq!(stats["users"]["by_role"]["user"], PLAN.users as u64);
    assert_eq!(stats["users"]["active_admins"], 1);
    // The admin's session, each seeded one but the two ended above, and the
    // sampled users' logins.
    assert_eq!(stats["active_sessions"], (1 + PLAN.sessions - (per_user - 1) + PLAN.sample) as u64);
    let counts = users::role_counts(stores).await.expect("role counts");
    assert!(counts.contains(&(Role::User, PLAN.users as i64)) && counts.contains(&(Role::Admin, 1)), "{counts:?}");

    // The id counter moved past the seeded ids: the next user gets the next one.
    let next = app.create_user(&admin.token, "after-the-seed", "user").await;
    assert_eq!(next, high + 1);
    // Every username is reserved, case-insensitively (the refused
    // registration takes an id too: ids are never reused, gaps are fine).
    let taken = json!({"username": scale::username(17).to_uppercase(), "password": PASSWORD, "role": "user"});
    app.call(Method::POST, "/api/auth/register", admin.auth(), Some(&taken))
        .await
        .assert_error(StatusCode::CONFLICT, "username_taken");

    // Each owner's token counter is exactly what the owner holds (75 tokens
    // over 30 users: 3 each for the first 15, 2 for the others), and the cap
    // counts from there.
    let mut held_total = 0;
    for id in low..=high {
        let held = tokens::list_of(stores, id).await.expect("list").len();
        let expected = if id - low < 15 { 3 } else { 2 };
        assert_eq!(held, expected, "user {id}");
        held_total += held;
    }
    assert_eq!(held_total, PLAN.tokens);
    let first_owner = low;
    let taken =
        tokens::create(stores, first_owner, "SCALE-60", None, tokens::Grant::default(), |t| audit_event(t.id)).await;
    assert!(matches!(taken, Err(tokens::CreateError::NameTaken)), "token names are reserved per owner");
    let mut created = 0;
    loop {
        match tokens::create(stores, first_owner, &format!("more-{created}"), None, tokens::Grant::default(), |t| {
            audit_event(t.id)
        })
        .await
        {
            Ok(_) => created += 1,
            Err(tokens::CreateError::TooMany) => break,
            Err(e) => panic!("creation {created}: {e}"),
        }
    }
    assert_eq!(created, tokens::MAX_PER_USER as usize - 3, "the counter started from what the user held");
    // A seeded token is found by its id and revoked with its name and a
    // place under the cap freed.
    let login = app.login_attempt(&scale::username(0), PASSWORD, "127.0.0.1").await;
    let session = login.session_token().expect("session");
    let own = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&session), None).await.json();
    let own = own.as_array().expect("array");
    assert_eq!(own.len(), tokens::MAX_PER_USER as usize);
    let id = own.iter().find(|t| t["name"] == "scale-30").and_then(|t| t["id"].as_u64()).expect("token scale-30");
    let path = format!("/api/auth/tokens/{id}");
    app.call(Method::DELETE, &path, Auth::Bearer(&session), None).await.assert_status(StatusCode::OK);
    tokens::create(stores, first_owner, "scale-30", None, tokens::Grant::default(), |t| audit_event(t.id))
        .await
        .expect("name and place freed");

    // The users list pages through every user once, ten at a time.
    let mut seen = Vec::new();
    let mut path = "/api/auth/users?limit=10".to_owned();
    loop {
        let page = app.call(Method::GET, &path, admin.auth(), None).await;
        page.assert_status(StatusCode::OK);
        let items = page.json();
        let items = items.as_array().expect("array");
        assert!(items.len() <= 10);
        seen.extend(items.iter().map(|u| u["id"].as_u64().expect("id")));
        match page.header("x-next-cursor") {
            Some(cursor) => path = format!("/api/auth/users?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "pages overlap");
    assert_eq!(unique.len(), PLAN.users + 2, "the admin, the seeded users and the one after");
}

fn audit_event(id: u64) -> shared::audit::AuditEvent {
    shared::audit::AuditEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        at: shared::types::Timestamp::now(),
        actor: shared::audit::SYSTEM_USERNAME.to_owned(),
        actor_id: None,
        actor_must_hold: None,
        actor_manages: None,
        actor_manages_member: None,
        action: "token.create",
        target: Some(format!("token:{id}")),
        outcome: shared::audit::Outcome::Success,
        reason: None,
        detail: None,
        client: Some("127.0.0.1".to_owned()),
        request_id: None,
    }
}
