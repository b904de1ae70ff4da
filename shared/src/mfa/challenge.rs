//! The `mfa_token` between a right password and the second factor: a
//! single-use, five-minute Redis entry naming the user, their credential
//! generation (so a password change, reset or deactivation meanwhile ends it),
//! the methods they may use and the address the password came from.
//!
//! The token is `<user id>.<32 random bytes, base64url>`: the id puts the entry
//! in the user's slot (`db::keys::user_tag`), so it sits beside the user's
//! other keys on a Redis Cluster; only the SHA-256 of the whole token is
//! stored (`mfa:{u<id>}:<hash>`), never the token. It is redeemed with GETDEL,
//! once, when a factor was accepted; a wrong code leaves it for another try
//! (the login throttle bounds those). Neither logged nor audited.

use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, sha256_hex};
use crate::db::StoreError;
use crate::db::keys::user_tag;
use crate::db::kv::Redis;
use crate::mfa::model::Method;
use crate::users::UserRecord;

/// How long a token lives.
pub const TTL_SECS: u64 = 300;

/// What a token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub user_id: u64,
    /// The user's credential generation when the password was checked.
    pub epoch: u64,
    pub methods: Vec<Method>,
    /// The client address the password came from (recorded, not enforced:
    /// a client's address may change between the two steps).
    pub client: String,
    /// The case-folded username: the key of the login throttle that counts
    /// wrong codes (see `auth::throttle`).
    pub name_key: String,
}

impl Challenge {
    /// What is still due from `user` after their first factor (a password
    /// or a provider) was accepted from `client`.
    pub fn for_user(user: &UserRecord, client: &str) -> Self {
        Self {
            user_id: user.id,
            epoch: user.epoch,
            methods: user.mfa.methods(),
            client: client.to_owned(),
            name_key: user.username.to_ascii_lowercase(),
        }
    }
}

/// The Redis key of `token`, if it has a token's shape.
pub fn key(redis: &Redis, token: &str) -> Option<String> {
    let (id, random) = token.split_once('.')?;
    let id: u64 = id.parse().ok()?;
    if random.len() != 43 || !random.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return None;
    }
    Some(redis.key(&format!("mfa:{}:{}", user_tag(id), sha256_hex(token))))
}

/// Stores `challenge` and answers its token.
pub async fn issue(redis: &Redis, challenge: &Challenge) -> Result<String, StoreError> {
    let token = format!("{}.{}", challenge.user_id, random_token(32));
    let key =
        key(redis, &token).ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a fresh mfa_token is malformed")))?;
    let value = serde_json::to_string(challenge).map_err(|e| StoreError::Internal(e.into()))?;
    redis.query::<()>(redis::cmd("SET").arg(key).arg(value).arg("EX").arg(TTL_SECS)).await?;
    Ok(token)
}

/// The challenge of `token` while it lives, leaving it in place (to find
/// whose factor to check before the check).
pub async fn peek(redis: &Redis, token: &str) -> Result<Option<Challenge>, StoreError> {
    let Some(key) = key(redis, token) else { return Ok(None) };
    let raw: Option<String> = redis.query(redis::cmd("GET").arg(key)).await?;
    Ok(parse(raw, token))
}

/// Takes the challenge of `token` out, atomically: of concurrent redemptions
/// exactly one gets it. Call only once the factor was accepted.
pub async fn redeem(redis: &Redis, token: &str) -> Result<Option<Challenge>, StoreError> {
    let Some(key) = key(redis, token) else { return Ok(None) };
    let raw: Option<String> = redis.query(redis::cmd("GETDEL").arg(key)).await?;
    Ok(parse(raw, token))
}

/// A stored challenge; one that does not parse, or whose user is not the one
/// the token names, counts as absent.
fn parse(raw: Option<String>, token: &str) -> Option<Challenge> {
    let challenge: Challenge = serde_json::from_str(&raw?).ok()?;
    let named = token.split_once('.').and_then(|(id, _)| id.parse::<u64>().ok());
    (named == Some(challenge.user_id)).then_some(challenge)
}
