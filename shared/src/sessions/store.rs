//! Login sessions in Redis. A session lives exactly as long as its record: the
//! key's TTL is the session's expiry, and deleting the key ends it everywhere.
//!
//! Keys: `sess:{u<id>}:<hash>` is a hash of the session's fields, where
//! `<hash>` is the SHA-256 of the session id, so Redis never holds a usable
//! credential; `usess:{u<id>}` is a sorted set of the user's session hashes
//! scored by expiry, so all of a user's sessions can be listed or ended at
//! once. Both carry the user's hash tag (`db::keys::user_tag`): a user's
//! sessions, index, cached state and markers share one slot, so every script
//! here touches one slot and names all its keys, as a Redis Cluster requires
//! (the `#!lua` shebang makes a single node refuse anything else too).
//! `allsess` (every live session, for the count) is the one key outside a
//! user's slot: it is changed beside the scripts, in the same round trip.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use crate::db::StoreError;
use crate::db::keys::user_tag;
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

    /// The session's fields as stored (public for the bench's scale seeder,
    /// `bench/src/scale.rs`, which writes sessions in raw pipelines).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
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

/// The session's hash (public, like the two keys below, for the bench's scale seeder).
pub fn session_key(redis: &Redis, user_id: u64, hash: &str) -> String {
    redis.key(&format!("sess:{}:{hash}", user_tag(user_id)))
}

/// The user's sessions, scored by expiry.
pub fn index_key(redis: &Redis, user_id: u64) -> String {
    redis.key(&format!("usess:{}", user_tag(user_id)))
}

/// Every live session, scored by expiry: the active-session count.
pub fn global_key(redis: &Redis) -> String {
    redis.key("allsess")
}

/// Stores a session and indexes it under its user, atomically. KEYS: the
/// session, the user's index. ARGV: ttl (ms), expiry (ms), now (ms), hash,
/// then the session's fields as name, value pairs.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[1], 'GT')
redis.call('PEXPIRE', KEYS[2], ARGV[1], 'NX')
return 1
",
    )
});

/// Stores a new session and indexes it under its user, atomically, and in the
/// global index in the same round trip (a count, pruned by expiry on every
/// login, so a miss there costs nothing but a moment's count).
pub async fn create(redis: &Redis, session: &SessionRecord, now_ms: i64) -> Result<(), StoreError> {
    create_with(redis, session, &[], now_ms).await
}

/// The field of a session that a provider login vouched for a second factor
/// (its value names the provider; see `oidc::mapping::mfa_satisfied`).
pub const PROVIDER_MFA_FIELD: &str = "mfa_by";

/// [`create`] with `extra` fields stored beside the session's own, in the
/// same script (a single sign-on session's provider, see `oidc`).
pub async fn create_with(
    redis: &Redis,
    session: &SessionRecord,
    extra: &[(&str, String)],
    now_ms: i64,
) -> Result<(), StoreError> {
    let ttl_ms = (session.expires_at_ms - now_ms).max(1);
    let mut invocation = CREATE.prepare_invoke();
    invocation
        .key(session_key(redis, session.user_id, &session.hash))
        .key(index_key(redis, session.user_id))
        .arg(ttl_ms)
        .arg(session.expires_at_ms)
        .arg(now_ms)
        .arg(&session.hash);
    for (name, value) in session.fields() {
        invocation.arg(name).arg(value);
    }
    for (name, value) in extra {
        invocation.arg(*name).arg(value);
    }
    let mut add = redis::cmd("ZADD");
    add.arg(global_key(redis)).arg(session.expires_at_ms).arg(&session.hash);
    let mut prune = redis::cmd("ZREMRANGEBYSCORE");
    prune.arg(global_key(redis)).arg("-inf").arg(now_ms);
    redis.invoke_along(&invocation, &[add, prune]).await.map(|_| ())
}

/// Notes a session as seen, only if it still exists (a logout may have
/// ended it meanwhile, and a bare `HSET` would bring back a key without expiry).
/// KEYS: the session. ARGV: now (ms).
static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_seen_at_ms', ARGV[1])
end
return 1
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
    /// The login was a provider's that vouched for a second factor.
    pub provider_mfa: bool,
}

/// The once-a-minute marker of a user's activity.
pub fn seen_key(redis: &Redis, user_id: u64) -> String {
    redis.key(&format!("useen:{}", user_tag(user_id)))
}

/// Authenticates session `hash` of `user_id`: the session, the cached user
/// and the user's once-a-minute marker in one round trip of plain reads (no
/// script on the warm path: a script costs Redis several times a `GET`).
/// `along` rides on the same round trip and its answers come back beside.
/// When the session's or the user's activity is due for a stamp (at most once
/// a minute each), a second round trip claims it.
pub async fn authenticate(
    redis: &Redis,
    hash: &str,
    user_id: u64,
    now_ms: i64,
    along: &[redis::Cmd],
) -> Result<(Option<Lookup>, Vec<redis::Value>), StoreError> {
    let key = session_key(redis, user_id, hash);
    let seen = seen_key(redis, user_id);
    let mut hgetall = redis::cmd("HGETALL");
    hgetall.arg(&key);
    let mut mget = redis::cmd("MGET");
    mget.arg(user_cache::key(redis, user_id)).arg(&seen);
    let (own, along) = redis.reads_along(&[hgetall, mget], along).await?;
    let [fields, user_and_seen] = <[redis::Value; 2]>::try_from(own).map_err(|_| unexpected())?;
    let fields: HashMap<String, String> =
        redis::from_redis_value(fields).map_err(|e| StoreError::Internal(e.into()))?;
    let Some(session) = SessionRecord::from_fields(hash, &fields) else {
        if Box::pin(adopt_legacy(redis, hash, user_id, now_ms)).await? {
            return Ok((Box::pin(authenticate(redis, hash, user_id, now_ms, &[])).await?.0, along));
        }
        return Ok((None, along));
    };
    let (user_raw, marker): (Option<String>, Option<String>) =
        redis::from_redis_value(user_and_seen).map_err(|e| StoreError::Internal(e.into()))?;
    let touch = (now_ms - session.last_seen_at_ms >= TOUCH_INTERVAL_MS).then_some(key.as_str());
    let due = if marker.is_none() { vec![seen] } else { Vec::new() };
    let won = claim(redis, &due, touch, now_ms).await?;
    let lookup = Lookup {
        session,
        cached_user: user_cache::parse(user_raw.as_deref()),
        stamp_last_seen: won.first().copied().unwrap_or(false),
        provider_mfa: fields.contains_key(PROVIDER_MFA_FIELD),
    };
    Ok((Some(lookup), along))
}

fn unexpected() -> StoreError {
    StoreError::Internal(anyhow::anyhow!("unexpected session lookup answer"))
}

/// Claims the once-a-minute activity stamps a lookup found due: each marker
/// of `due` is set if still absent (`true` where this request set it, and so
/// records the stamp), and `touch` (a session key) notes the session as seen;
/// in one round trip, none when nothing is due.
pub(crate) async fn claim(
    redis: &Redis,
    due: &[String],
    touch: Option<&str>,
    now_ms: i64,
) -> Result<Vec<bool>, StoreError> {
    let markers: Vec<redis::Cmd> = due
        .iter()
        .map(|marker| {
            let mut set = redis::cmd("SET");
            set.arg(marker).arg(1).arg("NX").arg("PX").arg(TOUCH_INTERVAL_MS);
            set
        })
        .collect();
    let answers = match touch {
        Some(session) => {
            let mut invocation = TOUCH.prepare_invoke();
            invocation.key(session).arg(now_ms);
            redis.invoke_along(&invocation, &markers).await?.1
        }
        None if markers.is_empty() => return Ok(Vec::new()),
        None => {
            let mut pipe = redis::pipe();
            for set in markers {
                pipe.add_command(set);
            }
            redis.pipeline(&pipe).await?
        }
    };
    Ok(answers.iter().map(|v| !matches!(v, redis::Value::Nil)).collect())
}

/// Where sessions lived before their keys carried their user's hash tag
/// (`sess:<hash>` and the index `usess:<user id>`).
fn legacy_keys(redis: &Redis, user_id: u64, hash: &str) -> (String, String) {
    (redis.key(&format!("sess:{hash}")), redis.key(&format!("usess:{user_id}")))
}

/// A session stored in the layout before hash tags moves to the current one
/// on its first use, so upgrading logs nobody out. Costs a round trip only
/// when a session is not found (a legacy one, or one that ended). `true` if
/// one was moved.
async fn adopt_legacy(redis: &Redis, hash: &str, user_id: u64, now_ms: i64) -> Result<bool, StoreError> {
    let (legacy, legacy_index) = legacy_keys(redis, user_id, hash);
    let fields: HashMap<String, String> = redis.query(redis::cmd("HGETALL").arg(&legacy)).await?;
    let Some(session) = SessionRecord::from_fields(hash, &fields) else { return Ok(false) };
    if session.user_id != user_id || session.expires_at_ms <= now_ms {
        return Ok(false);
    }
    create(redis, &session, now_ms).await?;
    let mut pipe = redis::pipe();
    pipe.del(&legacy).ignore().zrem(&legacy_index, hash).ignore();
    redis.pipeline::<()>(&pipe).await?;
    Ok(true)
}

/// Moves a live session into a new credential generation: the session that
/// changed the password lives on while every other one ends.
static SET_EPOCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[1])
  return 1
end
return 0
",
    )
});

pub async fn set_epoch(redis: &Redis, user_id: u64, hash: &str, epoch: u64) -> Result<(), StoreError> {
    let mut invocation = SET_EPOCH.prepare_invoke();
    invocation.key(session_key(redis, user_id, hash)).arg(epoch);
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
    Ok(end_some(redis, user_id, &[hash.to_owned()]).await? > 0)
}

/// Ends the sessions `hashes` of a user, atomically in the user's slot (the
/// key and its index entry), and takes them out of the global index in the
/// same round trip. KEYS: the user's index, then the sessions. ARGV: their
/// hashes, in the same order. Returns how many existed.
static END_SOME: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
local ended = 0
for i, hash in ipairs(ARGV) do
  ended = ended + redis.call('DEL', KEYS[i + 1])
  redis.call('ZREM', KEYS[1], hash)
end
return ended
",
    )
});

async fn end_some(redis: &Redis, user_id: u64, hashes: &[String]) -> Result<u64, StoreError> {
    let mut ended = 0;
    // Bounded scripts: a user with thousands of sessions is ended in slices.
    for slice in hashes.chunks(500) {
        let mut invocation = END_SOME.prepare_invoke();
        invocation.key(index_key(redis, user_id));
        for hash in slice {
            invocation.key(session_key(redis, user_id, hash)).arg(hash);
        }
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(global_key(redis)).arg(slice);
        let (value, _) = redis.invoke_along(&invocation, &[zrem]).await?;
        ended += redis::from_redis_value::<u64>(value).map_err(|e| StoreError::Internal(e.into()))?;
    }
    Ok(ended)
}

/// Ends every session of a user but `except`; returns how many ended. The
/// user's index is read first, so the script names every key it deletes; a
/// session born after that read is one that began after this call.
pub async fn end_all(redis: &Redis, user_id: u64, except: Option<&str>) -> Result<u64, StoreError> {
    let (_, legacy_index) = legacy_keys(redis, user_id, "");
    let mut pipe = redis::pipe();
    pipe.cmd("ZRANGE").arg(index_key(redis, user_id)).arg(0).arg(-1);
    pipe.cmd("ZRANGE").arg(&legacy_index).arg(0).arg(-1);
    let (hashes, legacy): (Vec<String>, Vec<String>) = redis.pipeline(&pipe).await?;
    let keep = |h: &String| Some(h.as_str()) != except;
    let mut ended = 0;
    // Sessions not used since before hash tags are ended where they are.
    let legacy: Vec<String> = legacy.into_iter().filter(keep).collect();
    if !legacy.is_empty() {
        let mut pipe = redis::pipe();
        for hash in &legacy {
            pipe.del(legacy_keys(redis, user_id, hash).0);
        }
        pipe.zrem(&legacy_index, &legacy).ignore().zrem(global_key(redis), &legacy).ignore();
        let deleted: Vec<u64> = redis.pipeline(&pipe).await?;
        ended += deleted.iter().sum::<u64>();
    }
    let hashes: Vec<String> = hashes.into_iter().filter(keep).collect();
    if !hashes.is_empty() {
        ended += end_some(redis, user_id, &hashes).await?;
    }
    Ok(ended)
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
        pipe.hgetall(session_key(redis, user_id, hash));
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
