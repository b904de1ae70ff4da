//! Login activity counters: successful and refused logins per UTC hour and per
//! UTC day, kept by the login itself so the overview never scans the audit log.
//!
//! Keys: `act:<kind>:h:<hour number>` and `act:<kind>:d:<day number>` (hours
//! and days since the Unix epoch), each a Redis counter that expires 31 days
//! after its last increment. Recording is best effort: a failure is logged and
//! never fails the login.

use serde::Serialize;

use crate::db::StoreError;
use crate::db::kv::Redis;
use crate::types::Timestamp;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Counters outlive the 30-day chart by a day.
const TTL_SECONDS: i64 = 31 * 24 * 3600;
/// The hourly chart's length.
pub const HOURS: i64 = 24;
/// The daily chart's length.
pub const DAYS: i64 = 30;

/// What a login attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    Success,
    /// Refused credentials (unknown user, wrong password, disabled account).
    Failure,
}

impl Login {
    fn tag(self) -> &'static str {
        match self {
            Self::Success => "ok",
            Self::Failure => "fail",
        }
    }
}

// Every counter carries the `{act}` hash tag, so each chart is one `MGET`
// of one Redis Cluster slot.
fn hour_key(redis: &Redis, kind: Login, hour: i64) -> String {
    redis.key(&format!("act:{{act}}:{}:h:{hour}", kind.tag()))
}

fn day_key(redis: &Redis, kind: Login, day: i64) -> String {
    redis.key(&format!("act:{{act}}:{}:d:{day}", kind.tag()))
}

/// A counter's name before the hash tag.
fn legacy_key(redis: &Redis, kind: Login, unit: char, start: i64) -> String {
    redis.key(&format!("act:{}:{unit}:{start}", kind.tag()))
}

/// Counts one login attempt in its hour and day, in one round trip. Best
/// effort: an error is a log line.
pub async fn record(redis: &Redis, kind: Login, now: Timestamp) {
    let hour = hour_key(redis, kind, now.millis().div_euclid(HOUR_MS));
    let day = day_key(redis, kind, now.millis().div_euclid(DAY_MS));
    let mut pipe = redis::pipe();
    pipe.incr(&hour, 1)
        .ignore()
        .expire(&hour, TTL_SECONDS)
        .ignore()
        .incr(&day, 1)
        .ignore()
        .expire(&day, TTL_SECONDS)
        .ignore();
    if let Err(e) = redis.pipeline::<()>(&pipe).await {
        tracing::warn!(error = %e, "could not count a login in the activity counters");
    }
}

/// One bar of a chart.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivityBucket {
    /// Start of the hour or day (UTC).
    pub start: Timestamp,
    pub logins: u64,
    pub failed_logins: u64,
}

/// `GET /api/admin/activity`: the last 24 hours and the last 30 days, oldest
/// first; the last bucket of each is the current (partial) hour or day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub hourly: Vec<ActivityBucket>,
    pub daily: Vec<ActivityBucket>,
}

/// One `MGET`'s answer: a counter per key, absent when never incremented.
type Counts = Vec<Option<u64>>;

/// Reads both charts in one round trip (four `MGET`s in a pipeline).
pub async fn read(redis: &Redis, now: Timestamp) -> Result<Activity, StoreError> {
    let this_hour = now.millis().div_euclid(HOUR_MS);
    let today = now.millis().div_euclid(DAY_MS);
    let hours: Vec<i64> = (this_hour - HOURS + 1..=this_hour).collect();
    let days: Vec<i64> = (today - DAYS + 1..=today).collect();
    let mut pipe = redis::pipe();
    for kind in [Login::Success, Login::Failure] {
        pipe.cmd("MGET").arg(hours.iter().map(|h| hour_key(redis, kind, *h)).collect::<Vec<_>>());
    }
    for kind in [Login::Success, Login::Failure] {
        pipe.cmd("MGET").arg(days.iter().map(|d| day_key(redis, kind, *d)).collect::<Vec<_>>());
    }
    // Counters written before the hash tag (a single node's; they expire
    // within 30 days) are added in, so upgrading keeps the charts' history.
    if !redis.is_cluster() {
        for kind in [Login::Success, Login::Failure] {
            pipe.cmd("MGET").arg(hours.iter().map(|h| legacy_key(redis, kind, 'h', *h)).collect::<Vec<_>>());
        }
        for kind in [Login::Success, Login::Failure] {
            pipe.cmd("MGET").arg(days.iter().map(|d| legacy_key(redis, kind, 'd', *d)).collect::<Vec<_>>());
        }
    }
    let mut counts: Vec<Counts> = redis.pipeline(&pipe).await?;
    if counts.len() == 8 {
        let legacy = counts.split_off(4);
        for (current, old) in counts.iter_mut().zip(legacy) {
            for (c, o) in current.iter_mut().zip(old) {
                *c = match (*c, o) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
            }
        }
    }
    let [hour_ok, hour_fail, day_ok, day_fail] = <[Counts; 4]>::try_from(counts)
        .map_err(|_| StoreError::Internal(anyhow::anyhow!("unexpected activity answer")))?;
    let buckets = |starts: &[i64], unit: i64, ok: &[Option<u64>], fail: &[Option<u64>]| -> Vec<ActivityBucket> {
        starts
            .iter()
            .enumerate()
            .map(|(i, start)| ActivityBucket {
                start: Timestamp::from_millis(start * unit),
                logins: ok.get(i).copied().flatten().unwrap_or(0),
                failed_logins: fail.get(i).copied().flatten().unwrap_or(0),
            })
            .collect()
    };
    Ok(Activity {
        hourly: buckets(&hours, HOUR_MS, &hour_ok, &hour_fail),
        daily: buckets(&days, DAY_MS, &day_ok, &day_fail),
    })
}
