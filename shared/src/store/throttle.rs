//! Failed-login throttling in Redis, so the limits hold across instances
//! (SPEC section 4). Per account (keyed by the hash of the case-folded
//! username, whether or not it exists): after `free_failures` consecutive
//! failures each attempt waits `base_delay`, doubling per failure up to
//! `max_delay`; `lockout_failures` within `window` lock it for `lockout`.
//! Per client address: `address_failures` within `window`.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::StoreError;
use super::kv::Redis;
use crate::auth::secret::sha256_hex;
use crate::config::LoginThrottle;

struct Keys {
    account: String,
    lock: String,
    window: String,
    address: String,
}

fn keys(redis: &Redis, username_key: &str, addr: &str) -> Keys {
    let account = sha256_hex(username_key);
    Keys {
        account: redis.key(&format!("thr:a:{account}")),
        lock: redis.key(&format!("thr:al:{account}")),
        window: redis.key(&format!("thr:aw:{account}")),
        address: redis.key(&format!("thr:ip:{addr}")),
    }
}

static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local wait = 0
local nxt = tonumber(redis.call('HGET', KEYS[1], 'next_at') or '0')
if nxt > now then wait = nxt - now end
local lock = redis.call('PTTL', KEYS[2])
if lock > wait then wait = lock end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  local w = tonumber(oldest[2]) + tonumber(ARGV[2]) - now
  if w > wait then wait = w end
end
return wait
",
    )
});

static FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local max_delay = tonumber(ARGV[4])
local window = tonumber(ARGV[6])
local n = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
if n >= free then
  local delay = tonumber(ARGV[3]) * 2 ^ (n - free)
  if delay > max_delay then delay = max_delay end
  redis.call('HSET', KEYS[1], 'next_at', now + delay)
end
redis.call('PEXPIRE', KEYS[1], math.max(window, max_delay))
redis.call('ZADD', KEYS[3], now, ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('PEXPIRE', KEYS[3], window)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[5]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[7])
  redis.call('DEL', KEYS[3])
end
redis.call('ZADD', KEYS[4], now, ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - window)
redis.call('PEXPIRE', KEYS[4], window)
return n
",
    )
});

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How long this account and address must wait before another attempt (zero: go ahead).
pub async fn wait(
    redis: &Redis,
    limits: &LoginThrottle,
    username_key: &str,
    addr: &str,
    now_ms: i64,
) -> Result<Duration, StoreError> {
    let k = keys(redis, username_key, addr);
    let mut invocation = CHECK.prepare_invoke();
    invocation
        .key(&k.account)
        .key(&k.lock)
        .key(&k.address)
        .arg(now_ms)
        .arg(millis(limits.window))
        .arg(limits.address_failures);
    let wait_ms: i64 = redis.invoke(&invocation).await?;
    Ok(Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)))
}

/// Counts a failed attempt against the account and the address.
pub async fn record_failure(
    redis: &Redis,
    limits: &LoginThrottle,
    username_key: &str,
    addr: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let k = keys(redis, username_key, addr);
    let mut invocation = FAILURE.prepare_invoke();
    invocation
        .key(&k.account)
        .key(&k.lock)
        .key(&k.window)
        .key(&k.address)
        .arg(now_ms)
        .arg(limits.free_failures)
        .arg(millis(limits.base_delay))
        .arg(millis(limits.max_delay))
        .arg(limits.lockout_failures)
        .arg(millis(limits.window))
        .arg(millis(limits.lockout))
        .arg(uuid::Uuid::new_v4().simple().to_string());
    let _: i64 = redis.invoke(&invocation).await?;
    Ok(())
}

/// A successful login resets the account's counters.
pub async fn record_success(redis: &Redis, username_key: &str) -> Result<(), StoreError> {
    let k = keys(redis, username_key, "");
    redis.query::<i64>(redis::cmd("DEL").arg(&k.account).arg(&k.window)).await.map(|_| ())
}

/// An admin's unlock: clears every account limit, lockout included.
pub async fn clear(redis: &Redis, username_key: &str) -> Result<(), StoreError> {
    let k = keys(redis, username_key, "");
    redis.query::<i64>(redis::cmd("DEL").arg(&k.account).arg(&k.window).arg(&k.lock)).await.map(|_| ())
}
