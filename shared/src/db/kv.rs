//! The Redis connection: one reconnecting, multiplexed connection per process,
//! created lazily so a cold start never waits on (or dies of) an unreachable Redis.
//!
//! Two backends behind one API: a single server (or a primary with replicas)
//! through a [`ConnectionManager`], or a Redis Cluster (`REDIS_CLUSTER=true`)
//! through the cluster client, which routes each command to the primary that
//! owns its key's hash slot and follows `MOVED`/`ASK`/`TRYAGAIN` by itself.
//! On a cluster every script's keys and every atomic pipeline's keys must share
//! one slot (the domain modules hash-tag their keys for that); a plain pipeline
//! may span slots and is split per slot here (see [`Conn`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::config::StoreSettings;
use crate::db::Store;
use crate::db::StoreError;
use redis::aio::{ConnectionLike as _, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::Slot;
use redis::{Cmd, ErrorKind, Pipeline, RedisFuture, ServerErrorKind, Value};
use secrecy::ExposeSecret;

/// A cheap-to-clone handle; every clone shares the one connection.
#[derive(Clone)]
pub struct Redis {
    backend: Backend,
    /// Prefix of every key, so runs can share a server.
    prefix: String,
    timeout: Duration,
    io: Arc<crate::db::io::IoCounters>,
}

#[derive(Clone)]
enum Backend {
    Single(ConnectionManager),
    Cluster(Arc<Cluster>),
}

/// The cluster client and its connection. The connection asks a seed node
/// for the slot layout when it is made, so it is made on first use rather
/// than at start; an attempt that fails (or runs out of time) leaves the cell
/// empty and the next call tries again. Once made, it reconnects to nodes and
/// refreshes the layout by itself.
struct Cluster {
    client: ClusterClient,
    connection: tokio::sync::OnceCell<ClusterConnection>,
}

impl Redis {
    /// Prepares the connection; it is opened on first use and re-opened after failures.
    pub fn connect(settings: &StoreSettings, io: Arc<crate::db::io::IoCounters>) -> Result<Self, StoreError> {
        let url = settings.redis_url.expose_secret();
        let timeout = settings.timeout;
        let connect_timeout = timeout.min(Duration::from_millis(500));
        // `rediss://` verifies the server against the bundled public roots
        // (ElastiCache), or against `REDIS_CA_FILE` when a private CA signed it.
        let certificates = settings
            .redis_ca
            .as_ref()
            .map(|pem| redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) });
        let backend = if settings.redis_cluster {
            let mut builder = ClusterClientBuilder::new(StoreSettings::seed_urls(url))
                .connection_timeout(connect_timeout)
                .response_timeout(timeout)
                // Redirects during a resharding or failover are retries;
                // the store timeout bounds them all (see `bounded`).
                .retries(3)
                .min_retry_wait(20)
                .max_retry_wait(100);
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            let client = builder.build().map_err(|e| StoreError::Internal(anyhow::anyhow!("REDIS_URL: {e}")))?;
            Backend::Cluster(Arc::new(Cluster { client, connection: tokio::sync::OnceCell::new() }))
        } else {
            let client = match certificates {
                Some(certificates) => redis::Client::build_with_tls(url, certificates),
                None => redis::Client::open(url),
            }
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("REDIS_URL: {e}")))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(20))
                .set_max_delay(Duration::from_millis(100));
            let manager = ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| StoreError::Internal(anyhow::anyhow!("redis connection manager: {e}")))?;
            Backend::Single(manager)
        };
        Ok(Self { backend, prefix: format!("{}:", settings.table_prefix), timeout, io })
    }

    /// Whether this handle talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// The full key for `name` under this deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The connection to send on: the manager's handle, or the cluster
    /// connection (made now if this is the first use or the last try failed).
    async fn conn(&self) -> redis::RedisResult<Conn> {
        match &self.backend {
            Backend::Single(manager) => Ok(Conn::Single(manager.clone())),
            Backend::Cluster(cluster) => {
                let connection = cluster
                    .connection
                    .get_or_try_init(|| cluster.client.get_async_connection())
                    .await
                    // Whatever stopped the cluster connection from being made
                    // (no seed answers, no slot layout yet), the store is not
                    // there for this request: an outage, not a bug.
                    .map_err(|e| redis::RedisError::from(std::io::Error::other(format!("redis cluster: {e}"))))?;
                Ok(Conn::Cluster(connection.clone()))
            }
        }
    }

    /// Runs one command, bounded by the store timeout (the clients' own
    /// timeouts do not cover waiting for a reconnect).
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        self.bounded(async move { cmd.query_async::<T>(&mut self.conn().await?).await }).await
    }

    /// Runs a pipeline (one round trip), bounded like [`Redis::query`]. On a
    /// cluster an atomic pipeline goes to the one node that owns its keys;
    /// a plain one is split by slot and its parts sent at once.
    pub async fn pipeline<T: redis::FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, StoreError> {
        self.bounded(async move { pipe.query_async::<T>(&mut self.conn().await?).await }).await
    }

    /// Runs a Lua script (EVALSHA, loading it on a miss), bounded like
    /// [`Redis::query`]. On a cluster the script runs on the node owning its
    /// first key's slot; a miss there loads it on every node and resends.
    pub async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.bounded(async move { invocation.invoke_async::<T>(&mut self.conn().await?).await }).await
    }

    /// Runs a Lua script and `along` (plain reads) in one pipeline: one round
    /// trip for what a request needs beyond its caller (a VPS's grants, a
    /// counter). Answers the script's value and one value per command of
    /// `along`. The script is sent by hash; when the server does not know it
    /// yet, it is loaded and the pipeline sent again (once per server start).
    /// On a cluster the commands whose keys live on other nodes go there at
    /// the same time, still one round trip of waiting.
    /// Sends `own` (a lookup's reads) and `along` (reads a handler needs
    /// beside it) in one pipeline: one round trip. Answers `own`'s replies and
    /// `along`'s, each in order.
    pub async fn reads_along(&self, own: &[Cmd], along: &[Cmd]) -> Result<(Vec<Value>, Vec<Value>), StoreError> {
        let mut pipe = redis::pipe();
        for cmd in own.iter().chain(along) {
            pipe.add_command(cmd.clone());
        }
        let mut answers: Vec<Value> = self.pipeline(&pipe).await?;
        if answers.len() != own.len() + along.len() {
            return Err(StoreError::Internal(anyhow::anyhow!("a pipeline answered {} replies", answers.len())));
        }
        let along = answers.split_off(own.len());
        Ok((answers, along))
    }

    pub async fn invoke_along(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        along: &[Cmd],
    ) -> Result<(Value, Vec<Value>), StoreError> {
        if along.is_empty() {
            return Ok((self.invoke(invocation).await?, Vec::new()));
        }
        let mut pipe = redis::pipe();
        pipe.invoke_script(invocation);
        for cmd in along {
            pipe.add_command(cmd.clone());
        }
        let sent = async {
            let mut conn = self.conn().await?;
            match pipe.query_async::<Vec<Value>>(&mut conn).await {
                // The script comes first, so a pipeline failing with NOSCRIPT
                // is the script's miss (on a cluster: on its key's node).
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    invocation.load_async(&mut conn).await?;
                    pipe.query_async::<Vec<Value>>(&mut conn).await
                }
                done => done,
            }
        };
        let mut values = self.bounded(sent).await?.into_iter();
        let script = values.next().ok_or_else(|| StoreError::Internal(anyhow::anyhow!("empty pipeline answer")))?;
        Ok((script, values.collect()))
    }

    async fn bounded<T>(&self, fut: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        self.io.redis_round_trip();
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(classify(err)),
            Err(_) => Err(StoreError::unavailable(Store::Redis, anyhow::anyhow!("timed out after {:?}", self.timeout))),
        }
    }

    /// `PING`, for readiness (on a cluster: every primary must answer).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self.query(&redis::cmd("PING")).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Internal(anyhow::anyhow!("unexpected PING answer {pong:?}")))
        }
    }
}

fn classify(err: redis::RedisError) -> StoreError {
    // A cluster that is resharding, failing over or missing a primary answers
    // these until it settles (the client has retried them already): the store
    // is away for now, as when a single server restarts.
    let cluster_unsettled = matches!(
        err.kind(),
        ErrorKind::Server(
            ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::BusyLoading
                | ServerErrorKind::ReadOnly
        )
    );
    if err.is_io_error()
        || err.is_timeout()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_unrecoverable_error()
        || cluster_unsettled
    {
        StoreError::unavailable(Store::Redis, err)
    } else {
        StoreError::Internal(anyhow::Error::new(err))
    }
}

/// One call's connection, for the redis crate's `query_async`/`invoke_async`.
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => {
                if pipeline.is_transaction() {
                    // MULTI/EXEC runs on one node: its keys must share a
                    // slot, which the cluster client checks.
                    conn.req_packed_commands(pipeline, offset, count)
                } else {
                    // The cluster client refuses a plain pipeline whose keys
                    // span slots; the service's pipelines are batches of
                    // independent commands (one read per session, a counter
                    // per user), so they are split instead. The pipeline
                    // itself then drops ignored answers and raises errors as
                    // for a single server.
                    Box::pin(split_by_slot(conn, pipeline))
                }
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Sends a plain pipeline to a cluster as one pipeline per hash slot, all at
/// once, and answers every command's value in the pipeline's order. Commands
/// on one slot keep their order (an `INCR` before its `EXPIRE`); a command
/// whose keys span slots or that has no key goes alone, routed by the cluster
/// client (which splits an `MGET` over its slots, sends `KEYS` to every primary).
async fn split_by_slot(conn: &ClusterConnection, pipeline: &Pipeline) -> redis::RedisResult<Vec<Value>> {
    let commands: Vec<&Cmd> = pipeline.cmd_iter().collect();
    let mut groups: Vec<(Option<Slot>, Vec<usize>)> = Vec::new();
    for (index, cmd) in commands.iter().enumerate() {
        let slot = slot_of(cmd);
        match groups.iter_mut().find(|(s, _)| slot.is_some() && *s == slot) {
            Some((_, members)) => members.push(index),
            None => groups.push((slot, vec![index])),
        }
    }
    if let [(Some(_), _)] = groups.as_slice() {
        return conn.clone().req_packed_commands(pipeline, 0, commands.len()).await;
    }
    let sends = groups.iter().map(|(_, members)| {
        let mut conn = conn.clone();
        let commands = &commands;
        async move {
            if let [single] = members.as_slice() {
                return Ok(vec![conn.req_packed_command(commands[*single]).await?]);
            }
            let mut part = redis::pipe();
            for index in members {
                part.add_command(commands[*index].clone());
            }
            conn.req_packed_commands(&part, 0, members.len()).await
        }
    });
    let answers = join_all(sends.collect()).await;
    let mut values = vec![Value::Nil; commands.len()];
    for ((_, members), answer) in groups.iter().zip(answers) {
        let answer = answer?;
        if answer.len() != members.len() {
            return Err(redis::RedisError::from((ErrorKind::Client, "a pipeline part answered the wrong count")));
        }
        for (index, value) in members.iter().zip(answer) {
            values[*index] = value;
        }
    }
    Ok(values)
}

/// The slot a command's keys live in, when it has keys and they share one:
/// the first key of most commands, the first of an `EVAL`'s keys (where the
/// cluster client sends it), all keys of the multi-key commands.
fn slot_of(cmd: &Cmd) -> Option<Slot> {
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|arg| match arg {
            redis::Arg::Simple(bytes) => Some(bytes),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let name = args.first()?.to_ascii_uppercase();
    match name.as_slice() {
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            let keys: usize = std::str::from_utf8(args.get(2)?).ok()?.parse().ok()?;
            if keys == 0 { None } else { args.get(3).map(Slot::for_key) }
        }
        b"MGET" | b"DEL" | b"EXISTS" | b"UNLINK" | b"TOUCH" => {
            let first = Slot::for_key(args.get(1)?);
            args[2..].iter().all(|key| Slot::for_key(key) == first).then_some(first)
        }
        // No key, or not in the second argument: sent alone, routed by the client.
        b"PING" | b"ECHO" | b"KEYS" | b"SCAN" | b"DBSIZE" | b"INFO" | b"TIME" | b"RANDOMKEY" | b"SCRIPT"
        | b"FUNCTION" | b"CLUSTER" | b"CONFIG" | b"CLIENT" | b"COMMAND" | b"ACL" | b"AUTH" | b"OBJECT" | b"MEMORY"
        | b"DEBUG" | b"SLOWLOG" | b"LATENCY" | b"MODULE" | b"PUBSUB" | b"PUBLISH" | b"SPUBLISH" | b"FLUSHALL"
        | b"FLUSHDB" | b"WAIT" | b"WAITAOF" | b"MULTI" | b"EXEC" | b"DISCARD" | b"WATCH" | b"UNWATCH" | b"MSET"
        | b"MSETNX" | b"BITOP" | b"XGROUP" | b"XINFO" | b"XREAD" | b"XREADGROUP" | b"LMPOP" | b"BLMPOP" | b"ZMPOP"
        | b"BZMPOP" | b"SINTERCARD" | b"ZDIFF" | b"ZINTER" | b"ZINTERCARD" | b"ZUNION" => None,
        _ => args.get(1).map(Slot::for_key),
    }
}

/// Awaits every future at once and answers their outputs in order (the
/// service's crates do not depend on `futures`).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_placed_by_their_keys() {
        let tagged = |name: &str| redis::cmd(name).arg("p:{u7}:sess").clone();
        let slot = Slot::for_key("{u7}");
        assert_eq!(slot_of(&tagged("HGETALL")), Some(slot));
        assert_eq!(slot_of(redis::cmd("INCR").arg("p:{u7}:n")), Some(slot));
        let eval = redis::cmd("EVALSHA").arg("abc").arg(2).arg("p:{u7}:a").arg("p:{u7}:b").clone();
        assert_eq!(slot_of(&eval), Some(slot), "a script goes where its first key lives");
        assert_eq!(slot_of(redis::cmd("EVALSHA").arg("abc").arg(0)), None);
        assert_eq!(slot_of(redis::cmd("MGET").arg("p:{u7}:a").arg("p:{u7}:b")), Some(slot));
        assert_eq!(slot_of(redis::cmd("MGET").arg("p:{u7}:a").arg("p:{u8}:b")), None, "spans slots: alone");
        assert_eq!(slot_of(&redis::cmd("PING")), None);
        assert_eq!(slot_of(redis::cmd("KEYS").arg("p:*")), None);
    }

    #[tokio::test]
    async fn join_all_answers_in_order() {
        let slow = |ms: u64, value: u32| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            value
        };
        let started = std::time::Instant::now();
        assert_eq!(join_all(vec![slow(60, 1), slow(10, 2), slow(30, 3)]).await, vec![1, 2, 3]);
        assert!(started.elapsed() < Duration::from_millis(150), "at once, not one after another");
    }
}
