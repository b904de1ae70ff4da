//! Fills the stores of a stopped `krv-server` for the scale scenario of
//! `bench/run`: many users, each with an API token, a cached state, and many
//! live sessions, so the hot paths are measured against full stores rather
//! than the handful of records the small-data scenarios have.
//!
//! Everything is written through the `shared` crate's own store functions
//! (`users::create`, `tokens::create`, `identity::signed_in`,
//! `sessions::create`, the session signing keys), so the records, keys and
//! indexes are exactly what the service writes, whatever their layout is at
//! the time; the only shortcut is many calls in flight. It reads the same
//! environment as `krv-server` (`DYNAMODB_DATA_PATH`, `REDIS_URL`,
//! `SESSION_SIGNING_KEY`, …) and serves the embedded store itself while it
//! seeds, which is why the server must be stopped (it holds the store's lock).
//!
//! Usage: `scale-seed USERS SESSIONS TOKENS SAMPLE OUT_DIR`. Writes
//! `OUT_DIR/sessions.txt` (`Cookie` values: the newest session of `SAMPLE`
//! users spread over all of them) and `OUT_DIR/tokens.txt` (`Authorization`
//! values of `SAMPLE` tokens), and prints one JSON object: the counts and how
//! long each phase took.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt, stream};
use krv_server::backup::StoreLock;
use krv_server::embedded::{self, EmbeddedDynamo};
use krv_server::settings::{DynamoMode, ServerSettings};
use serde_json::json;
use shared::AppState;
use shared::audit::{AuditEvent, Outcome};
use shared::config::Config;
use shared::db::dynamo::Endpoint;
use shared::db::tables;
use shared::env::Env;
use shared::sessions::{self, SessionRecord};
use shared::types::{Role, Timestamp};
use shared::users::{self, CreateGuard, NewUser, UserRecord};
use shared::{identity, tokens};

/// Calls in flight against the embedded store: it serialises writes in
/// SQLite, so more only queue longer.
const DYNAMO_IN_FLIGHT: usize = 32;
/// Calls in flight on the one multiplexed Redis connection: enough to keep
/// redis-server busy; its answers come back in order anyway.
const REDIS_IN_FLIGHT: usize = 512;
/// The seeded users' password (they can log in with it).
const PASSWORD: &str = "Scale-Passphrase-2026";

#[tokio::main]
#[expect(clippy::print_stdout, reason = "the summary is this program's output")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [users, sessions, tokens, sample, out] = args.as_slice() else {
        anyhow::bail!("usage: scale-seed USERS SESSIONS TOKENS SAMPLE OUT_DIR");
    };
    let (n_users, n_sessions, n_tokens, sample): (usize, usize, usize, usize) =
        (users.parse()?, sessions.parse()?, tokens.parse()?, sample.parse()?);
    anyhow::ensure!(n_users > 0 && sample > 0 && sample <= n_users, "need 0 < SAMPLE <= USERS");
    let out = std::path::Path::new(out);

    let env = Env::process();
    let config = Config::from(&env).map_err(|e| anyhow::anyhow!("{}: {}", e.var, e.problem))?;
    let settings = ServerSettings::from(&env).map_err(|e| anyhow::anyhow!("{}: {}", e.var, e.problem))?;
    let DynamoMode::Embedded { path } = settings.dynamodb else {
        anyhow::bail!("scale-seed fills the embedded store (DYNAMODB_DATA_PATH); an external DynamoDB is set");
    };
    let _lock = StoreLock::acquire(&path)?;
    let db = embedded::open(&path)?;
    // No fsync per commit while seeding: the run can be repeated if the
    // machine stops, and the service reopens the file with its own settings.
    db.enable_bulk_loading().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut store = EmbeddedDynamo::start(db.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let state = AppState::connect(config, &Endpoint { url: Some(store.endpoint()) }).await?;
    tables::ensure(&state.stores, &state.config.stores.table_prefix).await?;
    let password_hash = state.keys.passwords.hash(PASSWORD).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;

    let started = Instant::now();
    let created: Vec<UserRecord> = stream::iter(0..n_users)
        .map(|i| create_user(&state, i, &password_hash))
        .buffer_unordered(DYNAMO_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut ids: Vec<u64> = created.iter().map(|u| u.id).collect();
    ids.sort_unstable();
    let users_secs = started.elapsed().as_secs_f64();
    eprintln!("scale-seed: {n_users} users in {users_secs:.1} s");

    // What a login publishes: the user's state in the cache, so a request
    // with any of the sessions below needs no DynamoDB read.
    let started = Instant::now();
    stream::iter(&created)
        .map(|user| identity::signed_in(&state.stores, user))
        .buffer_unordered(REDIS_IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    drop(created);
    let cache_secs = started.elapsed().as_secs_f64();

    // Tokens go to as few users as the per-user cap allows (token i to user
    // i mod that many): each user's first token also creates the user's token
    // counter (several store calls), the rest cost two. The first round runs
    // alone, so no two first tokens of one user race to create its counter.
    let started = Instant::now();
    let token_users = n_tokens.div_ceil(tokens::MAX_PER_USER as usize).clamp(1, ids.len());
    let token_stride = (n_tokens / sample).max(1);
    let create_token = |i: usize| {
        let state = &state;
        let user_id = ids[i % token_users];
        async move {
            let issued = tokens::create(&state.stores, user_id, &format!("scale-{i}"), None, |t| {
                event("token.create", format!("token:{}", t.id))
            })
            .await
            .with_context(|| format!("token {i} of user {user_id}"))?;
            anyhow::Ok(i.is_multiple_of(token_stride).then_some(issued.token))
        }
    };
    let first_round = token_users.min(n_tokens);
    let mut sampled_tokens: Vec<Option<String>> =
        stream::iter(0..first_round).map(create_token).buffer_unordered(DYNAMO_IN_FLIGHT).try_collect().await?;
    let rest: Vec<Option<String>> =
        stream::iter(first_round..n_tokens).map(create_token).buffer_unordered(DYNAMO_IN_FLIGHT).try_collect().await?;
    sampled_tokens.extend(rest);
    let tokens_secs = started.elapsed().as_secs_f64();
    eprintln!("scale-seed: {n_tokens} tokens in {tokens_secs:.1} s");

    // Session i belongs to user i mod USERS, so every user has about the same
    // number; the sample is the last round (one session per user), taking
    // every (USERS / SAMPLE)-th user.
    let started = Instant::now();
    let lifetime = i64::from(state.config.session_lifetime_secs);
    let user_stride = n_users / sample;
    let last_round = n_sessions.saturating_sub(n_users);
    let sampled_sessions: Vec<Option<String>> = stream::iter(0..n_sessions)
        .map(|i| {
            let state = &state;
            let user_id = ids[i % ids.len()];
            async move {
                let now = Timestamp::now();
                let expires = now.plus_secs(lifetime);
                let issued = state.keys.sessions.issue(user_id, now.seconds(), expires.seconds())?;
                let record = SessionRecord {
                    hash: issued.hash,
                    user_id,
                    created_at_ms: now.millis(),
                    expires_at_ms: expires.millis(),
                    last_seen_at_ms: now.millis(),
                    client: "127.0.0.1".to_owned(),
                    user_agent: "scale-seed".to_owned(),
                    epoch: 0,
                };
                sessions::create(&state.stores.redis, &record, now.millis()).await?;
                let sampled = i >= last_round && (i % n_users).is_multiple_of(user_stride);
                anyhow::Ok(sampled.then_some(issued.token))
            }
        })
        .buffer_unordered(REDIS_IN_FLIGHT)
        .try_collect()
        .await?;
    let sessions_secs = started.elapsed().as_secs_f64();
    eprintln!("scale-seed: {n_sessions} sessions in {sessions_secs:.1} s");

    let mut lines = String::new();
    for token in sampled_sessions.iter().flatten().take(sample) {
        writeln!(lines, "kohakuriver_session={token}")?;
    }
    std::fs::write(out.join("sessions.txt"), &lines)?;
    lines.clear();
    for token in sampled_tokens.iter().flatten().take(sample) {
        writeln!(lines, "Bearer {token}")?;
    }
    std::fs::write(out.join("tokens.txt"), &lines)?;
    store.stop().await;
    db.disable_bulk_loading().map_err(|e| anyhow::anyhow!("{e}"))?;

    let summary = json!({
        "users": n_users, "sessions": n_sessions, "tokens": n_tokens, "sample": sample,
        "users_secs": users_secs, "user_cache_secs": cache_secs, "tokens_secs": tokens_secs,
        "sessions_secs": sessions_secs,
    });
    println!("{summary}");
    Ok(())
}

async fn create_user(state: &AppState, i: usize, password_hash: &str) -> anyhow::Result<UserRecord> {
    let username = format!("scale-{i:06}");
    let new = NewUser {
        display_name: username.clone(),
        username,
        role: Role::User,
        password_hash: password_hash.to_owned(),
        group_ids: Vec::new(),
    };
    users::create(
        &state.stores,
        new,
        CreateGuard::None,
        |u| event("user.create", format!("user:{}", u.id)),
        |_| Ok(Vec::new()),
    )
    .await
    .with_context(|| format!("user {i}"))
}

/// The audit event the service would write, with the system as the actor.
fn event(action: &'static str, target: String) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        at: Timestamp::now(),
        actor: shared::audit::SYSTEM_USERNAME.to_owned(),
        actor_id: None,
        actor_must_hold: None,
        action,
        target: Some(target),
        outcome: Outcome::Success,
        reason: None,
        detail: None,
        client: Some("127.0.0.1".to_owned()),
        request_id: None,
    }
}
