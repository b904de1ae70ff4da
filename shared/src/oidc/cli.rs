//! The command line's single sign-on hand-off (docs/sso.md, "The command
//! line"): a browser that has just logged in through a provider passes its
//! login to `kohakuriver auth login --sso`, which listens on a loopback port.
//!
//! [`issue`] keeps a one-time code under its SHA-256
//! (`oidc:cli:<hash>`, 60 s) with the user, the hash of the CLI's `state` and
//! whether the provider vouched for a second factor; [`take`] takes it out
//! with GETDEL (a code works once) and refuses it for another `state` (a
//! code carried to another CLI).

use serde::{Deserialize, Serialize};

use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::db::StoreError;
use crate::db::kv::Redis;

/// How long a hand-off code waits for the CLI's exchange.
pub const CODE_TTL_SECS: u64 = 60;
/// How recent the browser's session must be for a hand-off: the login that
/// just happened, not any session a link could reuse later.
pub const FRESH_SESSION_MS: i64 = 120_000;

/// What an exchange gets for a code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandOff {
    pub user_id: u64,
    /// The user's generation when the browser logged in (a code outlives no
    /// "log out everywhere").
    pub epoch: u64,
    /// The provider vouched for a second factor (carried to the CLI's session).
    pub provider_mfa: Option<String>,
    state: String,
}

fn key(redis: &Redis, code: &str) -> String {
    redis.key(&format!("oidc:cli:{}", sha256_hex(code)))
}

/// A loopback port and `state` as the CLI sends them: a port above the
/// privileged range and a state of 16 to 128 URL-safe characters.
pub fn valid_request(port: u16, state: &str) -> bool {
    port >= 1024
        && (16..=128).contains(&state.len())
        && state.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores a new code for `user_id` and the CLI's `state`; answers the code.
pub async fn issue(
    redis: &Redis,
    user_id: u64,
    epoch: u64,
    provider_mfa: Option<String>,
    state: &str,
) -> Result<String, StoreError> {
    let code = random_token(32);
    let record = HandOff { user_id, epoch, provider_mfa, state: sha256_hex(state) };
    let value = serde_json::to_string(&record).map_err(|e| StoreError::Internal(e.into()))?;
    redis.query::<()>(redis::cmd("SET").arg(key(redis, &code)).arg(value).arg("EX").arg(CODE_TTL_SECS)).await?;
    Ok(code)
}

/// Takes the code out (once, whatever happens next) and answers its hand-off
/// when `state` is the one it was issued for.
pub async fn take(redis: &Redis, code: &str, state: &str) -> Result<Option<HandOff>, StoreError> {
    if code.is_empty() || code.len() > 128 {
        return Ok(None);
    }
    let raw: Option<String> = redis.query(redis::cmd("GETDEL").arg(key(redis, code))).await?;
    let Some(found) = raw.and_then(|r| serde_json::from_str::<HandOff>(&r).ok()) else { return Ok(None) };
    Ok(constant_time_eq(&sha256_hex(state), &found.state).then_some(found))
}

/// For the browser session `hash` of `user_id`: `None` unless it began in
/// the last [`FRESH_SESSION_MS`]; else the provider that vouched for its
/// second factor, if one did.
pub async fn fresh_session(
    redis: &Redis,
    user_id: u64,
    hash: &str,
    now_ms: i64,
) -> Result<Option<Option<String>>, StoreError> {
    let key = crate::sessions::session_key(redis, user_id, hash);
    let (created, mfa_by): (Option<i64>, Option<String>) =
        redis.query(redis::cmd("HMGET").arg(key).arg("created_at_ms").arg(crate::sessions::PROVIDER_MFA_FIELD)).await?;
    Ok(created.filter(|c| now_ms - c <= FRESH_SESSION_MS).map(|_| mfa_by))
}

/// The loopback URL the browser is sent to with the code.
pub fn loopback_url(port: u16, code: &str, state: &str) -> String {
    format!("http://127.0.0.1:{port}/callback?code={code}&state={state}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unprivileged_ports_and_url_safe_states_are_accepted() {
        assert!(valid_request(49152, "abcdefghijklmnop"));
        assert!(!valid_request(80, "abcdefghijklmnop"));
        assert!(!valid_request(49152, "short"));
        assert!(!valid_request(49152, "abcdefghijklmnop&x=1"));
        assert!(!valid_request(49152, &"a".repeat(129)));
    }
}
