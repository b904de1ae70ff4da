//! The token cache in Redis: `tok:<sha256>` holds a token's owner, expiry and
//! id, so authentication reads it and the owner's cached state in one round
//! trip; DynamoDB is read on a cache miss only, and `last_used_at` is written
//! at most once a minute per token.

use std::sync::LazyLock;

use redis::Script;
use serde::{Deserialize, Serialize};

use crate::db::StoreError;
use crate::db::kv::Redis;
use crate::identity::user_cache::{self, CachedUser};

/// How long a token's cache entry lives (it is dropped on revocation anyway).
const CACHE_TTL_SECS: u64 = 600;

/// How long "no such token" stays cached after a miss. Short, because only
/// well-formed tokens get this far (a revoked one, or a made-up token of the
/// legacy shape, which has no checksum): a minute still spares DynamoDB a
/// client retrying one dead token in a loop (one read a minute), while keys
/// left by a flood of distinct made-up tokens are gone within a minute, so
/// they cost Redis at most a minute of that flood, not ten.
const MISSING_TTL_SECS: u64 = 60;

/// What the cache keeps of a token: enough to authorize without DynamoDB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    pub id: u64,
    pub user_id: u64,
    pub expires_at_ms: Option<i64>,
    /// A hash that matches no token is cached too, for [`MISSING_TTL_SECS`], so a
    /// client repeating a dead token does not cost a DynamoDB read each time (a
    /// random 256-bit token never comes to exist later). Revocation writes the
    /// same marker, as a tombstone, for [`CACHE_TTL_SECS`].
    #[serde(default)]
    pub missing: bool,
}

fn cache_key(redis: &Redis, hash: &str) -> String {
    redis.key(&format!("tok:{hash}"))
}

fn used_key(redis: &Redis, hash: &str) -> String {
    redis.key(&format!("tokused:{hash}"))
}

/// Reads the token entry, then (knowing the owner) the owner's cached state,
/// and marks the use for `last_used_at` and `last_seen_at`, in one round trip.
/// ARGV: key prefix, now (ms), stamp interval (ms).
static LOOKUP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local tok = redis.call('GET', KEYS[1])
if not tok then return {0} end
local ok, decoded = pcall(cjson.decode, tok)
if not ok or decoded.missing then return {1, tok, '', 0, 0} end
local uid = tostring(decoded.user_id)
local user = redis.call('GET', ARGV[1] .. 'user:' .. uid)
local used = redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3])
local seen = redis.call('SET', ARGV[1] .. 'useen:' .. uid, '1', 'NX', 'PX', ARGV[3])
return {1, tok, user or '', used and 1 or 0, seen and 1 or 0}
",
    )
});

/// What one token lookup found.
#[derive(Debug)]
pub struct Lookup {
    /// `None` on a cache miss.
    pub token: Option<CachedToken>,
    pub owner: Option<CachedUser>,
    pub stamp_last_used: bool,
    pub stamp_last_seen: bool,
}

pub async fn lookup(redis: &Redis, hash: &str, now_ms: i64) -> Result<Lookup, StoreError> {
    let mut invocation = LOOKUP.prepare_invoke();
    invocation
        .key(cache_key(redis, hash))
        .key(used_key(redis, hash))
        .arg(redis.key(""))
        .arg(now_ms)
        .arg(crate::sessions::TOUCH_INTERVAL_MS);
    let value: redis::Value = redis.invoke(&invocation).await?;
    let redis::Value::Array(parts) = value else {
        return Err(StoreError::Internal(anyhow::anyhow!("unexpected token lookup answer")));
    };
    let text = |i: usize| -> Option<String> {
        parts.get(i).and_then(|v| redis::from_redis_value_ref::<String>(v).ok()).filter(|s| !s.is_empty())
    };
    let flag = |i: usize| parts.get(i).and_then(|v| redis::from_redis_value_ref::<i64>(v).ok()) == Some(1);
    if !flag(0) {
        return Ok(Lookup { token: None, owner: None, stamp_last_used: false, stamp_last_seen: false });
    }
    Ok(Lookup {
        token: text(1).and_then(|t| serde_json::from_str(&t).ok()),
        owner: user_cache::parse(text(2).as_deref()),
        stamp_last_used: flag(3),
        stamp_last_seen: flag(4),
    })
}

/// Sets `hash`'s entry unless one exists (fills after a miss never overwrite
/// a newer entry or a tombstone): a token for [`CACHE_TTL_SECS`], "no such
/// token" for [`MISSING_TTL_SECS`].
pub(crate) async fn put_if_absent(redis: &Redis, hash: &str, entry: &CachedToken) -> Result<(), StoreError> {
    let json = serde_json::to_string(entry).map_err(|e| StoreError::Internal(e.into()))?;
    let mut cmd = redis::cmd("SET");
    let ttl = if entry.missing { MISSING_TTL_SECS } else { CACHE_TTL_SECS };
    cmd.arg(cache_key(redis, hash)).arg(json).arg("NX").arg("EX").arg(ttl);
    let _: Option<String> = redis.query(&cmd).await?;
    Ok(())
}

/// Replaces the token's entry by a "no such token" tombstone for
/// [`CACHE_TTL_SECS`] (before its revocation: see `tokens::revoke`).
pub(crate) async fn tombstone(redis: &Redis, id: u64, hash: &str) -> Result<(), StoreError> {
    let tombstone = serde_json::to_string(&CachedToken { id, user_id: 0, expires_at_ms: None, missing: true })
        .map_err(|e| StoreError::Internal(e.into()))?;
    let mut set = redis::cmd("SET");
    set.arg(cache_key(redis, hash)).arg(tombstone).arg("EX").arg(CACHE_TTL_SECS);
    redis.query::<()>(&set).await
}
