//! Redis read models of DynamoDB state that a hot request needs (a VPS's
//! grants for `/api/authorize`, the approval badge's count), kept so that a
//! reader never sees a state older than the last acknowledged write, and a
//! failed cache write means a DynamoDB read, never more access.
//!
//! Each model has an entry (`<name>:{<tag>}`, JSON) and a fence
//! (`<name>.gen:{<tag>}`, a hash of `g`, a generation, and `n`, the writers in
//! flight), in one slot. The protocol (a lease, as in memcache):
//! - a writer *opens* the fence before its DynamoDB write (`g` and `n` go up,
//!   the entry is dropped) and *closes* it after (`g` up again, `n` down, the
//!   entry dropped again). If it cannot open the fence it does not write;
//! - a reader reads the entry and the fence in the request's one round trip
//!   ([`Model::reads`]); on a miss it reads DynamoDB and fills the entry only
//!   if no writer opened or closed the fence since ([`Model::fill`]: `g` is
//!   what it read and `n` is 0). A fill from a read that may have missed a
//!   write therefore never lands, and once a write is acknowledged its fence
//!   is closed and the entry dropped: the next reader reads DynamoDB.
//!
//! A writer that dies or fails between open and close leaves `n` up: readers
//! then read DynamoDB, without filling, until the fence expires
//! ([`FENCE_MS`], far beyond any write's time limit, so that a write that
//! timed out on our side but commits late is inside it too).

use std::sync::LazyLock;

use redis::Script;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::StoreError;
use crate::db::kv::Redis;

/// How long a fence outlives its last writer's open or close.
pub const FENCE_MS: u64 = 60_000;

/// How long an entry lives without a write.
const ENTRY_TTL_SECS: u64 = 600;

/// KEYS: entry, fence. ARGV: +1 to open, -1 to close, 0 to close after a
/// failed write (the fence stays up until it expires), fence lifetime (ms).
static FENCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
redis.call('HINCRBY', KEYS[2], 'g', 1)
local delta = tonumber(ARGV[1])
if delta ~= 0 then
  local n = redis.call('HINCRBY', KEYS[2], 'n', delta)
  if n < 0 then redis.call('HSET', KEYS[2], 'n', 0) end
end
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
",
    )
});

/// KEYS: entry, fence. ARGV: the value, its lifetime (s), the generation the
/// reader saw ('' for none). Sets the entry only if the fence has not moved
/// and no writer is in flight.
static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
local fence = redis.call('HMGET', KEYS[2], 'g', 'n')
if (fence[1] or '') ~= ARGV[3] then return 0 end
if tonumber(fence[2] or '0') > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
",
    )
});

/// Whether a failed write may still have changed DynamoDB.
pub trait Outcome {
    fn may_have_landed(&self) -> bool;
}

impl Outcome for StoreError {
    /// A store error leaves the outcome unknown (a timeout, a dropped connection).
    fn may_have_landed(&self) -> bool {
        true
    }
}

impl Outcome for crate::db::dynamo::Failure {
    /// A refused condition or cancelled transaction changed nothing.
    fn may_have_landed(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

/// One instance of a read model: its entry and fence keys.
pub struct Model {
    entry: String,
    fence: String,
}

/// What a reader's round trip found.
#[derive(Debug)]
pub enum Read<T> {
    Hit(T),
    /// Not cached (or unreadable): read DynamoDB, then [`Model::fill`] with
    /// this generation.
    Miss {
        generation: String,
    },
}

impl Model {
    /// The model `name` of the thing with hash tag `tag` (without braces).
    pub fn new(redis: &Redis, name: &str, tag: &str) -> Self {
        Self { entry: redis.key(&format!("{name}:{{{tag}}}")), fence: redis.key(&format!("{name}.gen:{{{tag}}}")) }
    }

    /// The reads a request sends in its round trip (two plain commands).
    pub fn reads(&self) -> [redis::Cmd; 2] {
        let mut get = redis::cmd("GET");
        get.arg(&self.entry);
        let mut fence = redis::cmd("HGET");
        fence.arg(&self.fence).arg("g");
        [get, fence]
    }

    /// Interprets the answers to [`Model::reads`].
    pub fn parse<T: DeserializeOwned>(&self, answers: &[redis::Value]) -> Read<T> {
        let text =
            |i: usize| answers.get(i).and_then(|v| redis::from_redis_value_ref::<Option<String>>(v).ok()).flatten();
        match text(0).and_then(|raw| serde_json::from_str(&raw).ok()) {
            Some(value) => Read::Hit(value),
            None => Read::Miss { generation: text(1).unwrap_or_default() },
        }
    }

    /// The model's state in a round trip of its own (for pages that do not
    /// send the reads with their caller's).
    pub async fn read<T: DeserializeOwned>(&self, redis: &Redis) -> Result<Read<T>, StoreError> {
        let (answers, _) = redis.reads_along(&self.reads(), &[]).await?;
        Ok(self.parse(&answers))
    }

    /// Caches `value`, read from DynamoDB after a miss that saw `generation`,
    /// unless a writer came by since. Best effort: a failure costs the next
    /// reader a DynamoDB read, nothing else.
    pub async fn fill<T: Serialize>(&self, redis: &Redis, value: &T, generation: &str) {
        let Ok(json) = serde_json::to_string(value) else { return };
        let mut invocation = FILL.prepare_invoke();
        invocation.key(&self.entry).key(&self.fence).arg(json).arg(ENTRY_TTL_SECS).arg(generation);
        if let Err(e) = redis.invoke::<i64>(&invocation).await {
            tracing::warn!(error = %e, "could not fill a read model");
        }
    }

    /// Runs `write` (a DynamoDB write of what this model reflects) inside the
    /// fence. Fails without writing when the fence cannot be opened.
    pub async fn around<T, E: From<StoreError> + Outcome>(
        &self,
        redis: &Redis,
        write: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.fence(redis, 1).await?;
        let written = write.await;
        // A write whose outcome is unknown may still land (a timeout on our
        // side): the fence stays up until it expires, so no fill can miss it.
        let close = match &written {
            Err(e) if e.may_have_landed() => 0,
            _ => -1,
        };
        if let Err(e) = self.fence(redis, close).await {
            tracing::warn!(error = %e, "could not close a read model's fence; it expires by itself");
        }
        written
    }

    async fn fence(&self, redis: &Redis, delta: i64) -> Result<(), StoreError> {
        let mut invocation = FENCE.prepare_invoke();
        invocation.key(&self.entry).key(&self.fence).arg(delta).arg(FENCE_MS);
        redis.invoke::<i64>(&invocation).await.map(|_| ())
    }
}
