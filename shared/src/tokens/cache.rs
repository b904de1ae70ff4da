//! The token cache in Redis: `tok:{u<owner>}:<sha256>` holds a token's
//! owner, expiry and id, in the owner's slot (see `db::keys::user_tag`), so
//! authentication reads it and the owner's cached state with one `MGET`, one
//! round trip, on a single node and on a Redis Cluster alike. DynamoDB is
//! read on a cache miss only, and `last_used_at` is written at most once a
//! minute per token.
//!
//! Tokens issued before they named their owner (see `format.rs`) first look
//! their owner up in `tokown:<sha256>` (the owner's id, or `-` for no such
//! token): one more round trip for them, none for current tokens.

use serde::{Deserialize, Serialize};

use crate::db::StoreError;
use crate::db::keys::user_tag;
use crate::db::kv::Redis;
use crate::identity::user_cache::{self, CachedUser};
use crate::tokens::grant::Grant;
use crate::tokens::scope::{Resources, Scopes};

/// How long a token's cache entry lives (it is dropped on revocation anyway).
const CACHE_TTL_SECS: u64 = 600;

/// How long "no such token" stays cached after a miss. Short, because only
/// well-formed tokens get this far (a revoked one, or a made-up token of the
/// legacy shape, which has no checksum): a minute still spares DynamoDB a
/// client retrying one dead token in a loop (one read a minute), while keys
/// left by a flood of distinct made-up tokens are gone within a minute, so
/// they cost Redis at most a minute of that flood, not ten.
const MISSING_TTL_SECS: u64 = 60;

/// The answer of `tokown:` for a hash that matches no token.
const NO_OWNER: &str = "-";

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
    /// The token's scopes (`Scopes::bits`); entries from before scopes had
    /// none, and those tokens held every right of their owner.
    #[serde(default = "inherit_bits")]
    pub scopes: u16,
    /// The token's resources; empty: no limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
}

fn inherit_bits() -> u16 {
    Scopes::INHERIT.bits()
}

impl CachedToken {
    /// "No such token" (a revoked token's tombstone keeps its id).
    pub fn missing(id: u64) -> Self {
        Self { id, user_id: 0, expires_at_ms: None, missing: true, scopes: 0, resources: Vec::new() }
    }

    /// What the token grants.
    pub fn grant(&self) -> Grant {
        Grant { scopes: Scopes::from_bits(self.scopes), resources: Resources::from_names(&self.resources) }
    }
}

/// The token's entry, in its owner's slot.
pub fn cache_key(redis: &Redis, owner: u64, hash: &str) -> String {
    redis.key(&format!("tok:{}:{hash}", user_tag(owner)))
}

/// The once-a-minute marker of the token's use, beside its entry.
pub fn used_key(redis: &Redis, owner: u64, hash: &str) -> String {
    redis.key(&format!("tokused:{}:{hash}", user_tag(owner)))
}

/// The owner of a token that does not name one.
fn owner_key(redis: &Redis, hash: &str) -> String {
    redis.key(&format!("tokown:{hash}"))
}

/// What one token lookup found.
#[derive(Debug, Default)]
pub struct Lookup {
    /// `None` on a cache miss.
    pub token: Option<CachedToken>,
    pub owner: Option<CachedUser>,
    pub stamp_last_used: bool,
    pub stamp_last_seen: bool,
}

impl Lookup {
    fn missing() -> Self {
        Self { token: Some(CachedToken::missing(0)), ..Self::default() }
    }
}

/// Looks the token `hash` up; `named` is the owner the token names. `along`
/// rides on the first round trip (see `Redis::invoke_along`) and its answers
/// come back beside the lookup.
pub async fn lookup(
    redis: &Redis,
    hash: &str,
    named: Option<u64>,
    along: &[redis::Cmd],
) -> Result<(Lookup, Vec<redis::Value>), StoreError> {
    let (owner, along_values) = match named {
        Some(owner) => (owner, None),
        None => {
            let mut get = redis::cmd("GET");
            get.arg(owner_key(redis, hash));
            let (mut own, values) = redis.reads_along(&[get], along).await?;
            let pointer: Option<String> = redis::from_redis_value(own.remove(0)).ok();
            match pointer.as_deref() {
                None => return Ok((Lookup::default(), values)),
                Some(NO_OWNER) => return Ok((Lookup::missing(), values)),
                Some(id) => match id.parse::<u64>() {
                    Ok(owner) => (owner, Some(values)),
                    Err(_) => return Ok((Lookup::default(), values)),
                },
            }
        }
    };
    // One MGET of plain reads (no script on the warm path): the entry, the
    // owner's cached state and both once-a-minute markers, all in the owner's slot.
    let used = used_key(redis, owner, hash);
    let seen = crate::sessions::seen_key(redis, owner);
    let mut mget = redis::cmd("MGET");
    mget.arg(cache_key(redis, owner, hash)).arg(user_cache::key(redis, owner)).arg(&used).arg(&seen);
    let (value, values) = match along_values {
        Some(values) => (redis.query::<redis::Value>(&mget).await?, values),
        None => {
            let (mut own, values) = redis.reads_along(&[mget], along).await?;
            (own.remove(0), values)
        }
    };
    type Found = (Option<String>, Option<String>, Option<String>, Option<String>);
    let (tok, user, used_marker, seen_marker): Found =
        redis::from_redis_value(value).map_err(|e| StoreError::Internal(e.into()))?;
    let Some(tok) = tok else {
        return Ok((Lookup::default(), values));
    };
    let token = match serde_json::from_str::<CachedToken>(&tok) {
        // An entry in this slot is for this owner; one that says otherwise is no match.
        Ok(t) if t.missing || t.user_id == owner => t,
        Ok(t) => CachedToken::missing(t.id),
        Err(_) => CachedToken::missing(0),
    };
    if token.missing {
        return Ok((Lookup { token: Some(token), ..Lookup::default() }, values));
    }
    let mut due = Vec::new();
    if used_marker.is_none() {
        due.push(used);
    }
    if seen_marker.is_none() {
        due.push(seen);
    }
    let won = crate::sessions::claim(redis, &due, None, 0).await?;
    let mut won = won.into_iter();
    let found = Lookup {
        token: Some(token),
        owner: user_cache::parse(user.as_deref()),
        stamp_last_used: used_marker.is_none() && won.next().unwrap_or(false),
        stamp_last_seen: seen_marker.is_none() && won.next().unwrap_or(false),
    };
    Ok((found, values))
}

/// Caches what DynamoDB said of `hash` unless an entry exists (fills after a
/// miss never overwrite a newer entry or a tombstone): a token for
/// [`CACHE_TTL_SECS`], "no such token" for [`MISSING_TTL_SECS`]. `named` is
/// the owner the token names; a token naming none also gets its `tokown:`
/// pointer (a fact that never changes: a hash has one owner forever).
pub(crate) async fn put_if_absent(
    redis: &Redis,
    hash: &str,
    named: Option<u64>,
    entry: Option<&CachedToken>,
) -> Result<(), StoreError> {
    let set_nx = |key: String, value: String, ttl: u64| {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX").arg("EX").arg(ttl);
        cmd
    };
    let json = |e: &CachedToken| serde_json::to_string(e).map_err(|e| StoreError::Internal(e.into()));
    let mut pipe = redis::pipe();
    match (entry, named) {
        (Some(entry), named) => {
            pipe.add_command(set_nx(cache_key(redis, entry.user_id, hash), json(entry)?, CACHE_TTL_SECS)).ignore();
            if named.is_none() {
                pipe.add_command(set_nx(owner_key(redis, hash), entry.user_id.to_string(), CACHE_TTL_SECS)).ignore();
            }
        }
        (None, Some(owner)) => {
            let missing = json(&CachedToken::missing(0))?;
            pipe.add_command(set_nx(cache_key(redis, owner, hash), missing, MISSING_TTL_SECS)).ignore();
        }
        (None, None) => {
            pipe.add_command(set_nx(owner_key(redis, hash), NO_OWNER.to_owned(), MISSING_TTL_SECS)).ignore();
        }
    }
    redis.pipeline::<()>(&pipe).await
}

/// Replaces the token's entry by a "no such token" tombstone for
/// [`CACHE_TTL_SECS`] (before its revocation: see `tokens::revoke`).
pub(crate) async fn tombstone(redis: &Redis, id: u64, owner: u64, hash: &str) -> Result<(), StoreError> {
    replace(redis, owner, hash, &CachedToken::missing(id)).await
}

/// Sets the entry of `hash` to a rotated-out secret's shortened life, for
/// [`CACHE_TTL_SECS`], unless it is a tombstone: a revocation or a later
/// rotation that ended the secret meanwhile must not be undone by this late
/// write. One script, so nothing comes between the look and the write.
pub(crate) async fn shorten(redis: &Redis, owner: u64, hash: &str, entry: &CachedToken) -> Result<(), StoreError> {
    // KEYS: the entry; ARGV: the new entry, its life (s).
    static SHORTEN: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
        redis::Script::new(
            r#"#!lua
local now = redis.call('GET', KEYS[1])
if now and string.find(now, '"missing":true', 1, true) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"#,
        )
    });
    let json = serde_json::to_string(entry).map_err(|e| StoreError::Internal(e.into()))?;
    let mut invocation = SHORTEN.prepare_invoke();
    invocation.key(cache_key(redis, owner, hash)).arg(json).arg(CACHE_TTL_SECS);
    redis.invoke::<i64>(&invocation).await.map(|_| ())
}

/// Sets the entry of `hash` (whatever was there) for [`CACHE_TTL_SECS`]: a
/// change that must reach every instance at once (a revocation).
pub(crate) async fn replace(redis: &Redis, owner: u64, hash: &str, entry: &CachedToken) -> Result<(), StoreError> {
    let json = serde_json::to_string(entry).map_err(|e| StoreError::Internal(e.into()))?;
    let mut set = redis::cmd("SET");
    set.arg(cache_key(redis, owner, hash)).arg(json).arg("EX").arg(CACHE_TTL_SECS);
    redis.query::<()>(&set).await
}
