//! Login sessions in Redis. A session lives exactly as long as its record: the
//! key's TTL is the session's expiry, and deleting the key ends it everywhere.
//!
//! Keys: `sess:<hash>` is a hash of the session's fields, where `<hash>` is the
//! SHA-256 of the session id, so Redis never holds a usable credential;
//! `usess:<user id>` is a sorted set of the user's session hashes scored by
//! expiry, so all of a user's sessions can be listed or ended at once.
//! The scripts assume a single Redis node or a non-cluster replication group
//! (ElastiCache's default), as they touch keys derived from their arguments.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use crate::db::StoreError;
use crate::db::kv::Redis;
use crate::identity::user_cache;

/// Sessions' `last_seen_at` is written at most this often.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 (hex) of the session id.
    pub hash: String,
    pub user_id: u64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub client: String,
    pub user_agent: String,
    /// The user's credential generation when the session was born; the
    /// session works only while the user's is the same.
    pub epoch: u64,
}

impl SessionRecord {
    /// The id the API shows: a prefix of the hash, enough to name one session.
    pub fn public_id(&self) -> &str {
        public_id(&self.hash)
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("user_id", self.user_id.to_string()),
            ("created_at_ms", self.created_at_ms.to_string()),
            ("expires_at_ms", self.expires_at_ms.to_string()),
            ("last_seen_at_ms", self.last_seen_at_ms.to_string()),
            ("client", self.client.clone()),
            ("user_agent", self.user_agent.clone()),
            ("epoch", self.epoch.to_string()),
        ]
    }

    fn from_fields(hash: &str, map: &HashMap<String, String>) -> Option<Self> {
        let num = |name: &str| map.get(name).and_then(|v| v.parse::<i64>().ok());
        Some(Self {
            hash: hash.to_owned(),
            user_id: map.get("user_id")?.parse().ok()?,
            created_at_ms: num("created_at_ms")?,
            expires_at_ms: num("expires_at_ms")?,
            last_seen_at_ms: num("last_seen_at_ms")?,
            client: map.get("client").cloned().unwrap_or_default(),
            user_agent: map.get("user_agent").cloned().unwrap_or_default(),
            // Sessions from before generations existed belong to the first.
            epoch: map.get("epoch").and_then(|v| v.parse().ok()).unwrap_or(0),
        })
    }
}

pub fn public_id(hash: &str) -> &str {
    hash.get(..24).unwrap_or(hash)
}

fn session_key(redis: &Redis, hash: &str) -> String {
    redis.key(&format!("sess:{hash}"))
}

fn index_key(redis: &Redis, user_id: u64) -> String {
    redis.key(&format!("usess:{user_id}"))
}

/// Every live session, scored by expiry: the active-session count.
fn global_key(redis: &Redis) -> String {
    redis.key("allsess")
}

/// Stores a new session and indexes it under its user, atomically.
pub async fn create(redis: &Redis, session: &SessionRecord, now_ms: i64) -> Result<(), StoreError> {
    let ttl_ms = (session.expires_at_ms - now_ms).max(1);
    let key = session_key(redis, &session.hash);
    let index = index_key(redis, session.user_id);
    let mut pipe = redis::pipe();
    pipe.atomic()
        .hset_multiple(&key, &session.fields())
        .ignore()
        .pexpire(&key, ttl_ms)
        .ignore()
        .zadd(&index, &session.hash, session.expires_at_ms)
        .ignore()
        .zrembyscore(&index, "-inf", now_ms)
        .ignore()
        .zadd(global_key(redis), &session.hash, session.expires_at_ms)
        .ignore()
        .zrembyscore(global_key(redis), "-inf", now_ms)
        .ignore()
        .cmd("PEXPIRE")
        .arg(&index)
        .arg(ttl_ms)
        .arg("GT")
        .ignore()
        .cmd("PEXPIRE")
        .arg(&index)
        .arg(ttl_ms)
        .arg("NX")
        .ignore();
    redis.pipeline::<()>(&pipe).await
}

/// Looks a session up, notes it as seen (at most once a minute), and fetches
/// the cached user, all in one round trip.
static AUTHENTICATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return {0} end
local seen = tonumber(redis.call('HGET', KEYS[1], 'last_seen_at_ms') or '0')
if tonumber(ARGV[1]) - seen >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'last_seen_at_ms', ARGV[1])
end
local user = redis.call('GET', KEYS[2])
local stamp = redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2])
return {1, fields, user or '', stamp and 1 or 0}
",
    )
});

/// What one authentication round trip found.
#[derive(Debug)]
pub struct Lookup {
    pub session: SessionRecord,
    /// The cached user, if the cache had it.
    pub cached_user: Option<user_cache::CachedUser>,
    /// True at most once a minute per user: time to record `last_seen_at`.
    pub stamp_last_seen: bool,
}

/// The once-a-minute marker of a user's activity.
pub fn seen_key(redis: &Redis, user_id: u64) -> String {
    redis.key(&format!("useen:{user_id}"))
}

pub async fn authenticate(redis: &Redis, hash: &str, user_id: u64, now_ms: i64) -> Result<Option<Lookup>, StoreError> {
    let mut invocation = AUTHENTICATE.prepare_invoke();
    invocation
        .key(session_key(redis, hash))
        .key(user_cache::key(redis, user_id))
        .key(seen_key(redis, user_id))
        .arg(now_ms)
        .arg(TOUCH_INTERVAL_MS);
    let value: redis::Value = redis.invoke(&invocation).await?;
    let redis::Value::Array(parts) = value else {
        return Err(StoreError::Internal(anyhow::anyhow!("unexpected session lookup answer")));
    };
    let found: i64 = parts.first().map(redis::from_redis_value_ref).transpose().ok().flatten().unwrap_or(0);
    if found == 0 {
        return Ok(None);
    }
    let fields: HashMap<String, String> = parts
        .get(1)
        .map(redis::from_redis_value_ref)
        .transpose()
        .map_err(|e| StoreError::Internal(e.into()))?
        .unwrap_or_default();
    let user_raw: Option<String> =
        parts.get(2).map(redis::from_redis_value_ref).transpose().map_err(|e| StoreError::Internal(e.into()))?;
    let Some(session) = SessionRecord::from_fields(hash, &fields) else {
        return Ok(None);
    };
    let stamp: i64 = parts.get(3).map(redis::from_redis_value_ref).transpose().ok().flatten().unwrap_or(0);
    Ok(Some(Lookup {
        session,
        cached_user: user_cache::parse(user_raw.as_deref().filter(|s| !s.is_empty())),
        stamp_last_seen: stamp == 1,
    }))
}

/// Moves a live session into a new credential generation: the session that
/// changed the password lives on while every other one ends.
static SET_EPOCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1])
  return 1
end
return 0
",
    )
});

pub async fn set_epoch(redis: &Redis, hash: &str, epoch: u64) -> Result<(), StoreError> {
    let mut invocation = SET_EPOCH.prepare_invoke();
    invocation.key(session_key(redis, hash)).arg(epoch);
    redis.invoke::<i64>(&invocation).await.map(|_| ())
}

/// Ends the live session of `user_id` that the API names `public_id` (see
/// [`SessionRecord::public_id`]). `false` if the user has no such session.
pub async fn end_by_public_id(redis: &Redis, user_id: u64, public_id: &str, now_ms: i64) -> Result<bool, StoreError> {
    let found = list(redis, user_id, now_ms).await?;
    match found.iter().find(|s| s.public_id() == public_id) {
        Some(session) => end(redis, &session.hash, user_id).await,
        None => Ok(false),
    }
}

/// Ends one session. `false` if it did not exist.
pub async fn end(redis: &Redis, hash: &str, user_id: u64) -> Result<bool, StoreError> {
    let mut pipe = redis::pipe();
    pipe.atomic().del(session_key(redis, hash)).zrem(index_key(redis, user_id), hash).zrem(global_key(redis), hash);
    let (deleted, _, _): (i64, i64, i64) = redis.pipeline(&pipe).await?;
    Ok(deleted > 0)
}

/// Ends every session of a user but `except`, atomically; returns how many ended.
static END_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local ended = 0
for _, hash in ipairs(members) do
  if hash ~= ARGV[2] then
    ended = ended + redis.call('DEL', ARGV[1] .. hash)
    redis.call('ZREM', KEYS[1], hash)
    redis.call('ZREM', KEYS[2], hash)
  end
end
return ended
",
    )
});

pub async fn end_all(redis: &Redis, user_id: u64, except: Option<&str>) -> Result<u64, StoreError> {
    let mut invocation = END_ALL.prepare_invoke();
    invocation.key(index_key(redis, user_id)).key(global_key(redis)).arg(redis.key("sess:")).arg(except.unwrap_or(""));
    redis.invoke(&invocation).await
}

/// The user's live sessions, oldest first.
pub async fn list(redis: &Redis, user_id: u64, now_ms: i64) -> Result<Vec<SessionRecord>, StoreError> {
    let index = index_key(redis, user_id);
    let hashes: Vec<String> = redis.query(redis::cmd("ZRANGEBYSCORE").arg(&index).arg(now_ms).arg("+inf")).await?;
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for hash in &hashes {
        pipe.hgetall(session_key(redis, hash));
    }
    let maps: Vec<HashMap<String, String>> = redis.pipeline(&pipe).await?;
    let mut sessions: Vec<SessionRecord> =
        hashes.iter().zip(&maps).filter_map(|(hash, map)| SessionRecord::from_fields(hash, map)).collect();
    sessions.sort_by_key(|s| s.created_at_ms);
    Ok(sessions)
}

/// How many sessions are live across all users.
pub async fn count_all(redis: &Redis, now_ms: i64) -> Result<u64, StoreError> {
    redis.query(redis::cmd("ZCOUNT").arg(global_key(redis)).arg(now_ms).arg("+inf")).await
}

/// Live sessions of several users, in one round trip.
pub async fn count_many(redis: &Redis, user_ids: &[u64], now_ms: i64) -> Result<Vec<u64>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in user_ids {
        pipe.cmd("ZCOUNT").arg(index_key(redis, *id)).arg(now_ms).arg("+inf");
    }
    redis.pipeline(&pipe).await
}
