//! Failed-login throttling in Redis, so the limits hold across instances. Per
//! account (keyed by the hash of the case-folded username, whether or not it
//! exists): after `free_failures` consecutive failures each attempt waits
//! `base_delay`, doubling per failure up to `max_delay`; `lockout_failures`
//! within `window` lock it for `lockout`. Per client address:
//! `address_failures` within `window`.
//!
//! An attempt is counted as a failure *when it is admitted*, before the
//! password is checked ([`reserve`]), in the same script that decides whether
//! it may go ahead; a success refunds it ([`succeed`]). Checking first and
//! counting after the (slow) hash would let every attempt of a concurrent burst
//! pass the check before any of them is counted: an attacker would get as many
//! guesses per window as connections. Admitted attempts that are still being
//! checked therefore count against every limit, and a burst can never verify
//! more passwords than the limits allow in a serial order.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::config::LoginThrottle;
use crate::crypto::sha256_hex;
use crate::db::StoreError;
use crate::db::kv::Redis;
use crate::error::ApiError;

/// An account's keys share its hash tag (one slot, one script); the
/// address's window is in its own slot.
struct Keys {
    account: String,
    lock: String,
    window: String,
    address: String,
    /// Marks that a throttled attempt was audited recently (see [`Attempt::Wait`]).
    audited: String,
}

fn keys(redis: &Redis, username_key: &str, addr: &str) -> Keys {
    let account = sha256_hex(username_key);
    let tag = format!("{{a{}}}", &account[..32]);
    Keys {
        account: redis.key(&format!("thr:a:{tag}")),
        lock: redis.key(&format!("thr:al:{tag}")),
        window: redis.key(&format!("thr:aw:{tag}")),
        address: redis.key(&format!("thr:ip:{{{addr}}}")),
        audited: redis.key(&format!("thr:aud:{tag}")),
    }
}

/// How often a throttled account's refusals are audited: the first refusal of
/// each period is, the rest only logged, so an attacker hammering a locked
/// account cannot make the audit table grow without bound.
const AUDIT_EVERY_MS: u64 = 60_000;

/// The address's part of an attempt: refused while the address's window is
/// full, else counted. KEYS: address. ARGV: now, window, address limit,
/// member id. Returns the wait in ms (0: admitted and counted).
static RESERVE_ADDRESS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(tonumber(oldest[2]) + window - now, 1)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
",
    )
});

/// The account's part: decides and, when the attempt may go ahead, counts
/// it, atomically. KEYS: account, lock, window, audited (one slot). ARGV:
/// now, window, the address's wait (ms; > 0 refuses), free failures, base
/// delay, max delay, lockout failures, member id, audit period. Returns
/// `{wait_ms, audit}`: `wait_ms > 0` refuses the attempt (and `audit` = 1 if
/// this refusal is the first of its audit period); 0 admits it.
static RESERVE_ACCOUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local free = tonumber(ARGV[4])
local max_delay = tonumber(ARGV[6])
local wait = tonumber(ARGV[3])
local nxt = tonumber(redis.call('HGET', KEYS[1], 'next_at') or '0')
if nxt - now > wait then wait = nxt - now end
local lock = redis.call('PTTL', KEYS[2])
if lock > wait then wait = lock end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
if wait == 0 and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[7]) then
  -- A lockout's worth of attempts is being checked: wait for their outcome.
  wait = 1000
end
if wait > 0 then
  local audit = redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[9])
  return {wait, audit and 1 or 0}
end
local n = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
if n >= free then
  local delay = tonumber(ARGV[5]) * 2 ^ (n - free)
  if delay > max_delay then delay = max_delay end
  redis.call('HSET', KEYS[1], 'next_at', now + delay)
end
redis.call('PEXPIRE', KEYS[1], math.max(window, max_delay))
redis.call('ZADD', KEYS[3], now, ARGV[8])
redis.call('PEXPIRE', KEYS[3], window)
return {0, 0}
",
    )
});

/// A failure confirmed: lock the account once the window holds a lockout's worth.
/// KEYS: lock, window. ARGV: lockout failures, lockout.
static FAIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
",
    )
});

/// An attempt that could not be judged (a store failed): the account's
/// count is taken back (the address's beside it). KEYS: account, window.
/// ARGV: member id.
static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'consecutive') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'consecutive', -1)
end
return 0
",
    )
});

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An admitted attempt, already counted as a failure until it is settled.
#[derive(Debug)]
#[must_use = "an attempt must be settled with succeed, fail or cancel"]
pub struct Reservation {
    name_key: String,
    addr: String,
    member: String,
}

/// The throttle's answer to an attempt.
#[derive(Debug)]
pub enum Attempt {
    /// Go ahead and check the password, then settle the reservation.
    Admitted(Reservation),
    /// Refused: try again after this long. `audit` is true for the first
    /// refusal of an account in each audit period.
    Wait { retry_after: Duration, audit: bool },
}

/// [`reserve`] for an account proving itself again (its current password or a
/// second-factor code, to change a credential): a refusal is the 429 every
/// such check answers. Logins answer their own 429, with an audit event.
pub async fn reserve_proof(
    redis: &Redis,
    limits: &LoginThrottle,
    username_key: &str,
    addr: &str,
    now_ms: i64,
) -> Result<Reservation, ApiError> {
    match reserve(redis, limits, username_key, addr, now_ms).await? {
        Attempt::Admitted(reservation) => Ok(reservation),
        Attempt::Wait { retry_after, .. } => {
            Err(ApiError::TooManyRequests { detail: "Too many failed attempts; try again later".into(), retry_after })
        }
    }
}

/// Admits an attempt on `username_key` from `addr` (counting it as a failure
/// until settled), or says how long to wait. The address is counted first,
/// then the account (their keys live in different slots, so one script cannot
/// hold both); an attempt the account refuses gives the address its count
/// back. Every admitted attempt was counted against both limits before any
/// password is checked, so a burst cannot pass more than a serial order would.
pub async fn reserve(
    redis: &Redis,
    limits: &LoginThrottle,
    username_key: &str,
    addr: &str,
    now_ms: i64,
) -> Result<Attempt, StoreError> {
    let k = keys(redis, username_key, addr);
    let member = uuid::Uuid::new_v4().simple().to_string();
    let mut address = RESERVE_ADDRESS.prepare_invoke();
    address.key(&k.address).arg(now_ms).arg(millis(limits.window)).arg(limits.address_failures).arg(&member);
    let address_wait: i64 = redis.invoke(&address).await?;
    let mut account = RESERVE_ACCOUNT.prepare_invoke();
    account
        .key(&k.account)
        .key(&k.lock)
        .key(&k.window)
        .key(&k.audited)
        .arg(now_ms)
        .arg(millis(limits.window))
        .arg(address_wait)
        .arg(limits.free_failures)
        .arg(millis(limits.base_delay))
        .arg(millis(limits.max_delay))
        .arg(limits.lockout_failures)
        .arg(&member)
        .arg(AUDIT_EVERY_MS);
    let (wait_ms, audit): (i64, i64) = match redis.invoke(&account).await {
        Ok(answer) => answer,
        Err(e) => {
            if address_wait == 0 {
                uncount_address(redis, &k.address, &member).await;
            }
            return Err(e);
        }
    };
    if wait_ms > 0 {
        if address_wait == 0 {
            uncount_address(redis, &k.address, &member).await;
        }
        let retry_after = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        return Ok(Attempt::Wait { retry_after, audit: audit == 1 });
    }
    Ok(Attempt::Admitted(Reservation { name_key: username_key.to_owned(), addr: addr.to_owned(), member }))
}

/// Takes an attempt's count back from its address, best effort (a count left
/// behind only makes the address wait sooner, within its window).
async fn uncount_address(redis: &Redis, address: &str, member: &str) {
    if let Err(e) = redis.query::<i64>(redis::cmd("ZREM").arg(address).arg(member)).await {
        tracing::warn!(error = %e, "could not take back an address's login count");
    }
}

/// The attempt failed: it stays counted, and may lock the account.
pub async fn fail(redis: &Redis, limits: &LoginThrottle, reservation: Reservation) -> Result<(), StoreError> {
    let k = keys(redis, &reservation.name_key, &reservation.addr);
    let mut invocation = FAIL.prepare_invoke();
    invocation.key(&k.lock).key(&k.window).arg(limits.lockout_failures).arg(millis(limits.lockout));
    let _: i64 = redis.invoke(&invocation).await?;
    Ok(())
}

/// The attempt succeeded: the account's counters reset and the address gets
/// its count back.
pub async fn succeed(redis: &Redis, reservation: Reservation) -> Result<(), StoreError> {
    let k = keys(redis, &reservation.name_key, &reservation.addr);
    let mut pipe = redis::pipe();
    pipe.del(&[&k.account, &k.window]).ignore().zrem(&k.address, &reservation.member).ignore();
    redis.pipeline::<()>(&pipe).await
}

/// The attempt could not be judged (a store failed before the password was
/// checked or after): its count is taken back, best effort, so an outage does
/// not lock accounts.
pub async fn cancel(redis: &Redis, reservation: Reservation) {
    let k = keys(redis, &reservation.name_key, &reservation.addr);
    let mut invocation = CANCEL.prepare_invoke();
    invocation.key(&k.account).key(&k.window).arg(&reservation.member);
    let mut zrem = redis::cmd("ZREM");
    zrem.arg(&k.address).arg(&reservation.member);
    if let Err(e) = redis.invoke_along(&invocation, &[zrem]).await {
        tracing::warn!(error = %e, "could not take back a login attempt's count");
    }
}

/// An admin's unlock: clears every account limit, lockout included.
pub async fn clear(redis: &Redis, username_key: &str) -> Result<(), StoreError> {
    let k = keys(redis, username_key, "");
    redis.query::<i64>(redis::cmd("DEL").arg(&k.account).arg(&k.window).arg(&k.lock)).await.map(|_| ())
}
