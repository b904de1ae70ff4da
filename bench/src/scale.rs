//! Fills the stores for the scale scenario of `bench/run`: many users (each
//! with an API token and a cached state) and many live sessions, so the hot
//! paths are measured against full stores rather than the handful of records
//! the small-data scenarios have (`src/bin/scale-seed.rs` runs it on the
//! service's store file; `tests/tests/it/scale_seed.rs` checks the result).
//!
//! Fast, and still exactly what the service writes:
//! - The first user and the first token are made by the service's own
//!   `users::create` and `tokens::create`; every other one is a copy of that
//!   record with its own id and name, turned into items by the same
//!   `UserRecord::to_item` / `TokenRecord::to_item` and the stores' own key
//!   functions, and written with `BatchWriteItem` (25 items a call, many calls
//!   in flight, unprocessed items written again).
//! - What the service keeps consistent beside them is written once for all:
//!   the id counters advance by the number of ids taken (so ids are never
//!   handed out twice), the `user` role counter counts the users (no admins
//!   are seeded, so the active-admin count stays), every username is reserved
//!   and every token has its name and id lookups, and each owner's token
//!   counter holds the number of tokens the owner has.
//! - The users' cached state is published as after a login
//!   (`identity::signed_in`); the tokens' cache entries are left cold, as
//!   `tokens::create` leaves them: each fills on its token's first use.
//! - Sessions are written with plain commands in pipelines, from the
//!   session store's own key functions and fields (see [`seed_sessions`]
//!   for why not through `sessions::create`), while the tokens are written.
//!
//! Not written: an audit event per seeded user and token (only the two made
//! through the service have one). They are fixtures, not actions anyone took.

use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_dynamodb::types::{PutRequest, ReturnValue, WriteRequest};
use futures::{StreamExt, TryStreamExt, stream};
use shared::AppState;
use shared::audit::{AuditEvent, Outcome};
use shared::crypto::sha256_hex;
use shared::db::Stores;
use shared::db::dynamo::{self, store_error};
use shared::db::item::{Item, get_n, key, n, s};
use shared::identity;
use shared::sessions::{self, SessionRecord};
use shared::tokens::{self, TokenRecord};
use shared::types::{Role, Timestamp};
use shared::users::{self, CreateGuard, NewUser, UserRecord};

/// The seeded users' password (each can log in with it).
pub const PASSWORD: &str = "Scale-Passphrase-2026";
/// DynamoDB's limit of items in one `BatchWriteItem`.
const BATCH: usize = 25;
/// Batch writes in flight: the embedded store serialises writes in SQLite,
/// so a few in flight keep it busy while others are encoded and sent.
const DYNAMO_IN_FLIGHT: usize = 8;
/// Calls in flight on the one multiplexed Redis connection: enough to keep
/// redis-server busy; its answers come back in order anyway.
const REDIS_IN_FLIGHT: usize = 512;
/// Session pipelines in flight (each about a thousand sessions).
const PIPELINES_IN_FLIGHT: usize = 8;
/// How often one batch is sent before the seeding gives up.
const BATCH_TRIES: u32 = 8;

/// How much to seed.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub users: usize,
    pub sessions: usize,
    pub tokens: usize,
    /// How many sessions and tokens (and usernames) to hand back for the load.
    pub sample: usize,
}

/// What was seeded: credentials of a sample, and how long each phase took.
#[derive(Debug)]
pub struct Seeded {
    /// Session tokens (the cookie's value): the newest session of `sample`
    /// users spread over all of them.
    pub sessions: Vec<String>,
    /// API tokens spread over all of them.
    pub tokens: Vec<String>,
    /// Usernames spread over all users (the password is [`PASSWORD`]).
    pub usernames: Vec<String>,
    /// The seeded users' ids, lowest and highest.
    pub user_ids: (u64, u64),
    pub timings: Timings,
}

/// Seconds each phase took (tokens and sessions run at the same time, each
/// timed from their common start).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub users: f64,
    pub user_cache: f64,
    pub tokens: f64,
    pub sessions: f64,
}

/// Seeds `plan` into the stores of `state`, which must not hold seeded
/// users yet (usernames `scale-000000`…); nothing else may write meanwhile
/// (`scale-seed` holds the store's lock).
pub async fn seed(state: &AppState, plan: &Plan) -> anyhow::Result<Seeded> {
    anyhow::ensure!(plan.users > 0 && plan.sample > 0 && plan.sample <= plan.users, "need 0 < SAMPLE <= USERS");
    anyhow::ensure!(
        plan.tokens <= plan.users * tokens::MAX_PER_USER as usize,
        "at most {} tokens per user",
        tokens::MAX_PER_USER
    );
    let stores = &state.stores;
    anyhow::ensure!(
        users::find_by_username(stores, &username(0)).await?.is_none(),
        "the store holds seeded users already: seed a fresh one"
    );
    let password_hash = state.keys.passwords.hash(PASSWORD).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut timings = Timings::default();

    let started = Instant::now();
    let users = seed_users(stores, plan.users, password_hash).await?;
    timings.users = started.elapsed().as_secs_f64();
    eprintln!("scale-seed: {} users in {:.1} s", plan.users, timings.users);

    // What a login publishes: the user's state in the cache, so a request
    // with any of the sessions below needs no DynamoDB read.
    let started = Instant::now();
    stream::iter(&users)
        .map(|user| identity::signed_in(stores, user))
        .buffer_unordered(REDIS_IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    timings.user_cache = started.elapsed().as_secs_f64();
    eprintln!("scale-seed: {} cached users in {:.1} s", plan.users, timings.user_cache);

    let ids: Vec<u64> = users.iter().map(|u| u.id).collect();
    let stride = |total: usize| (total / plan.sample).max(1);
    let usernames = users.iter().step_by(stride(users.len())).take(plan.sample).map(|u| u.username.clone()).collect();
    drop(users);
    // Tokens (DynamoDB) and sessions (Redis) at once: they share nothing,
    // and each leaves the other's store idle. The sessions get a task of
    // their own, so both can use a core.
    let started = Instant::now();
    let sessions = tokio::spawn({
        let (state, ids) = (state.clone(), ids.clone());
        let (count, sample) = (plan.sessions, plan.sample);
        async move {
            let sessions = seed_sessions(&state, &ids, count, sample).await?;
            let secs = started.elapsed().as_secs_f64();
            eprintln!("scale-seed: {count} sessions in {secs:.1} s");
            anyhow::Ok((sessions, secs))
        }
    });
    let tokens = seed_tokens(stores, &ids, plan.tokens, stride(plan.tokens), plan.sample).await?;
    timings.tokens = started.elapsed().as_secs_f64();
    eprintln!("scale-seed: {} tokens in {:.1} s", plan.tokens, timings.tokens);
    let (sessions, secs) = sessions.await??;
    timings.sessions = secs;

    let user_ids = (ids.iter().copied().min().unwrap_or(0), ids.iter().copied().max().unwrap_or(0));
    Ok(Seeded { sessions, tokens, usernames, user_ids, timings })
}

/// The name of seeded user `i`.
pub fn username(i: usize) -> String {
    format!("scale-{i:06}")
}

/// Users `scale-000000`… (role `user`, active, no groups): the first through
/// `users::create`, the rest as copies of it in batches.
async fn seed_users(stores: &Stores, count: usize, password_hash: String) -> anyhow::Result<Vec<UserRecord>> {
    let table = &stores.tables.identity;
    let new = NewUser {
        username: username(0),
        display_name: username(0),
        role: Role::User,
        password_hash,
        group_ids: Vec::new(),
    };
    let first = users::create(
        stores,
        new,
        CreateGuard::None,
        |u| event("user.create", format!("user:{}", u.id)),
        |_| Ok(Vec::new()),
    )
    .await
    .context("the first user")?;
    let rest = count - 1;
    let start = reserve_ids(stores, table, "user_id", rest).await?;
    let mut all = Vec::with_capacity(count);
    all.push(first.clone());
    all.extend((1..count).zip(start..).map(|(i, id)| UserRecord {
        id,
        username: username(i),
        display_name: username(i),
        ..first.clone()
    }));
    // The user and its username's reservation, as `users::create` writes them.
    let items = all[1..].iter().flat_map(|user| {
        let mut reservation = key(users::username_pk(&user.username.to_ascii_lowercase()), "USERNAME");
        reservation.insert("user_id".into(), n(user.id));
        [user.to_item(), reservation]
    });
    batch_put(stores, table, items).await?;
    add_to_counter(stores, table, &users::role_counter(Role::User), rest).await?;
    Ok(all)
}

/// `count` tokens spread evenly over the users of `ids` (token `i` is user
/// `i mod users`'s): the first through `tokens::create`, the rest in
/// batches. Returns every `stride`-th token's secret, `sample` at most.
async fn seed_tokens(
    stores: &Stores,
    ids: &[u64],
    count: usize,
    stride: usize,
    sample: usize,
) -> anyhow::Result<Vec<String>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let table = &stores.tables.tokens;
    let name = |i: usize| format!("scale-{i}");
    let owner = |i: usize| ids[i % ids.len()];
    let first = tokens::create(stores, owner(0), &name(0), None, tokens::Grant::default(), |t| {
        event("token.create", format!("token:{}", t.id))
    })
    .await
    .context("the first token")?;
    let mut sampled = vec![first.token];
    let start = reserve_ids(stores, table, "token_id", count - 1).await?;
    let mut records = Vec::with_capacity(count - 1);
    for (i, id) in (1..count).zip(start..) {
        let user_id = owner(i);
        let secret = tokens::new_secret(user_id);
        records.push(TokenRecord {
            id,
            user_id,
            name: name(i),
            prefix: tokens::display_prefix(&secret),
            hash: sha256_hex(&secret),
            created_at: first.record.created_at,
            expires_at: None,
            last_used_at: None,
            grant: tokens::Grant::default(),
            rotated: false,
            previous_hash: None,
        });
        if i.is_multiple_of(stride) && sampled.len() < sample {
            sampled.push(secret);
        }
    }
    // The token and its name and id lookups, as `tokens::create` writes them.
    let token_items = records.iter().flat_map(|t| {
        let mut by_name = key(tokens::name_pk(t.user_id, &t.name), "TOKENNAME");
        by_name.insert("hash".into(), s(&t.hash));
        let mut by_id = key(tokens::id_pk(t.id), "TOKENID");
        by_id.insert("hash".into(), s(&t.hash));
        by_id.insert("user_id".into(), n(t.user_id));
        [t.to_item(), by_name, by_id]
    });
    // Each owner's counter, set to all the owner holds (the first owner's,
    // made by `tokens::create`, counted the first token only).
    let counters = ids.iter().enumerate().filter_map(|(u, id)| {
        let held = count / ids.len() + usize::from(u < count % ids.len());
        (held > 0).then(|| {
            let mut counter = key(tokens::counter_pk(*id), "COUNT");
            counter.insert("count".into(), n(held));
            counter
        })
    });
    batch_put(stores, table, token_items.chain(counters)).await?;
    Ok(sampled)
}

/// `count` live sessions spread evenly over the users of `ids` (the first
/// `count mod users` users hold one more). Returns the newest session of
/// every (users / `sample`)-th user, `sample` at most.
///
/// `sessions::create` runs a script per session, which costs Redis several
/// times the plain writes it makes: at a million sessions that was a minute
/// on this machine. The same keys are written here with plain commands in
/// pipelines, from the session store's own key functions and fields: a
/// session's hash with its expiry, each user's index in one `ZADD` with its
/// expiry, every session in the global index. What the script adds beyond
/// that (pruning expired entries, keeping an index's later expiry) has
/// nothing to do on a fresh user.
async fn seed_sessions(state: &AppState, ids: &[u64], count: usize, sample: usize) -> anyhow::Result<Vec<String>> {
    let redis = &state.stores.redis;
    let lifetime = i64::from(state.config.session_lifetime_secs);
    let user_stride = (ids.len() / sample).max(1);
    let held = |u: usize| count / ids.len() + usize::from(u < count % ids.len());
    let pipeline = |users: std::ops::Range<usize>| -> anyhow::Result<(redis::Pipeline, Vec<String>)> {
        let now = Timestamp::now();
        let expires = now.plus_secs(lifetime);
        let ttl_ms = expires.millis() - now.millis();
        let mut pipe = redis::pipe();
        let mut everyone = redis::cmd("ZADD");
        everyone.arg(sessions::global_key(redis));
        let mut sampled = Vec::new();
        for u in users {
            let user_id = ids[u];
            let mut index = redis::cmd("ZADD");
            index.arg(sessions::index_key(redis, user_id));
            let mut newest = None;
            for _ in 0..held(u) {
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
                let key = sessions::session_key(redis, user_id, &record.hash);
                let hset = pipe.cmd("HSET").arg(&key);
                for (name, value) in record.fields() {
                    hset.arg(name).arg(value);
                }
                hset.ignore();
                pipe.cmd("PEXPIRE").arg(&key).arg(ttl_ms).ignore();
                index.arg(record.expires_at_ms).arg(&record.hash);
                everyone.arg(record.expires_at_ms).arg(&record.hash);
                newest = Some(issued.token);
            }
            if newest.is_some() {
                pipe.add_command(index).ignore();
                pipe.cmd("PEXPIRE").arg(sessions::index_key(redis, user_id)).arg(ttl_ms).ignore();
            }
            sampled.extend(newest.filter(|_| u.is_multiple_of(user_stride)));
        }
        if everyone.args_iter().count() > 1 {
            pipe.add_command(everyone).ignore();
        }
        Ok((pipe, sampled))
    };
    // About a thousand sessions a pipeline.
    let per_pipeline = (1000 / (count / ids.len()).max(1)).max(1);
    let sampled: Vec<Vec<String>> = stream::iter((0..ids.len()).step_by(per_pipeline))
        .map(|first| async move {
            let (pipe, sampled) = pipeline(first..ids.len().min(first + per_pipeline))?;
            redis.pipeline::<()>(&pipe).await?;
            anyhow::Ok(sampled)
        })
        .buffered(PIPELINES_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(sampled.into_iter().flatten().take(sample).collect())
}

/// Takes `count` ids from the counter `COUNTER`/`name` in one update, as
/// `dynamo::next_id` takes one, and returns the first of them.
async fn reserve_ids(stores: &Stores, table: &str, name: &str, count: usize) -> anyhow::Result<u64> {
    let out = stores
        .dynamo
        .update_item()
        .table_name(table)
        .set_key(Some(key("COUNTER", name)))
        .update_expression("ADD #v :n")
        .expression_attribute_names("#v", "value")
        .expression_attribute_values(":n", n(count))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(store_error)?;
    let last: u64 = get_n(out.attributes().context("the counter's new value")?, "value")?;
    Ok(last + 1 - count as u64)
}

/// Adds `delta` to the counter `name` with the service's own counter action.
async fn add_to_counter(stores: &Stores, table: &str, name: &str, delta: usize) -> anyhow::Result<()> {
    let action = dynamo::counter_action(table, name, i64::try_from(delta)?)?;
    stores.dynamo.transact_write_items().transact_items(action).send().await.map_err(store_error)?;
    Ok(())
}

/// Puts `items` into `table` in batches of 25, many in flight.
async fn batch_put(stores: &Stores, table: &str, items: impl Iterator<Item = Item>) -> anyhow::Result<()> {
    stream::iter(items)
        .chunks(BATCH)
        .map(|chunk| write_batch(stores, table, chunk))
        .buffer_unordered(DYNAMO_IN_FLIGHT)
        .try_collect()
        .await
}

/// One `BatchWriteItem`, sent again with what DynamoDB left unprocessed (it
/// does under load) or after a failed call (a call that timed out may have
/// been applied in part: putting the same item again changes nothing).
async fn write_batch(stores: &Stores, table: &str, items: Vec<Item>) -> anyhow::Result<()> {
    let mut pending = items
        .into_iter()
        .map(|item| {
            Ok(WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build()?).build())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut pause = Duration::from_millis(20);
    for attempt in 1..=BATCH_TRIES {
        match stores.dynamo.batch_write_item().request_items(table, pending.clone()).send().await {
            Ok(out) => match out.unprocessed_items().and_then(|u| u.get(table)).filter(|r| !r.is_empty()) {
                None => return Ok(()),
                Some(rest) => pending = rest.clone(),
            },
            Err(err) if attempt == BATCH_TRIES => return Err(store_error(err).into()),
            Err(_) => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
    anyhow::bail!("{} items of a batch still unprocessed after {BATCH_TRIES} tries", pending.len())
}

/// The audit event the service would write, with the system as the actor.
fn event(action: &'static str, target: String) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        at: Timestamp::now(),
        actor: shared::audit::SYSTEM_USERNAME.to_owned(),
        actor_id: None,
        actor_must_hold: None,
        actor_manages: None,
        actor_manages_member: None,
        action,
        target: Some(target),
        outcome: Outcome::Success,
        reason: None,
        detail: None,
        client: Some("127.0.0.1".to_owned()),
        request_id: None,
    }
}
