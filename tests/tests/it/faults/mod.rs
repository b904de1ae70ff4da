//! Store faults under load (issue #13): while several clients read and write
//! over real HTTP, Redis stops, then DynamoDB, then both, and each comes back.
//!
//! What must hold:
//! - every answer comes within 2 s, and every failure is a JSON `{"detail"}`
//!   503 with `Retry-After` (never a 500, a hang or a dropped connection);
//! - during a DynamoDB outage warm credentials still authenticate (`/me`);
//! - after each restart every kind of request succeeds again within a bounded
//!   time, without restarting the service;
//! - afterwards, in DynamoDB itself: every write acknowledged with a 2xx is
//!   there, and nothing is half-applied (users and their username
//!   reservations, role and admin counters, invitation uses and the users
//!   registered with them, tokens and their lookup items, tasks and the
//!   pending-approval counter, and one audit event per change made).
//!
//! Sessions live only in Redis, and the test Redis keeps no data across a
//! restart, so a session may answer 401 after Redis comes back; its client
//! logs in again, which is part of what "recovers" means here.
//!
//! A second test (issue #17) does the same for `POST /api/authorize` and
//! admins changing users' roles and activity while DynamoDB is stopped, then
//! unresponsive; see its own comment.

use std::time::Duration;

use krv_tests::store_faults::StoreFault;

mod authorize;
mod outages;
mod workers;

/// The promise: an answer, success or 503, within this long.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// How long a store stays stopped, and how long one hangs (longer: each
/// request then takes a store timeout to fail, so fewer fit in).
pub(super) const OUTAGE: Duration = Duration::from_secs(3);
pub(super) const HANG: Duration = Duration::from_secs(5);
/// Steady load before the first outage and after each recovery, so writes are
/// acknowledged in calm periods too.
pub(super) const STEADY: Duration = Duration::from_secs(2);
/// How long every kind of request may take to succeed again after a restart.
pub(super) const RECOVERY: Duration = Duration::from_secs(10);
/// A pause between one worker's requests: a steady load that leaves the two
/// cores room for the stores.
pub(super) const PACE: Duration = Duration::from_millis(10);

/// In order: Redis, then DynamoDB, then both, each started again after its
/// outage; then the two kinds that hang.
pub(super) const FAULTS: [StoreFault; 5] = [
    StoreFault::RedisStopped,
    StoreFault::DynamoStopped,
    StoreFault::BothStopped,
    StoreFault::RedisFrozen,
    StoreFault::DynamoUnresponsive,
];

pub(super) fn lasts(fault: StoreFault) -> Duration {
    if fault.hangs() { HANG } else { OUTAGE }
}
