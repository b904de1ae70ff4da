//! The Redis connection: one reconnecting, multiplexed connection per process,
//! created lazily so a cold start never waits on (or dies of) an unreachable Redis.

use std::time::Duration;

use crate::config::StoreSettings;
use crate::db::Store;
use crate::db::StoreError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

/// A cheap-to-clone handle; every clone shares the one connection.
#[derive(Clone)]
pub struct Redis {
    manager: ConnectionManager,
    /// Prefix of every key, so runs can share a server.
    prefix: String,
    timeout: Duration,
    io: std::sync::Arc<crate::db::io::IoCounters>,
}

impl Redis {
    /// Prepares the connection; it is opened on first use and re-opened after failures.
    pub fn connect(
        settings: &StoreSettings,
        io: std::sync::Arc<crate::db::io::IoCounters>,
    ) -> Result<Self, StoreError> {
        let url = settings.redis_url.expose_secret();
        // `rediss://` verifies the server against the bundled public roots
        // (ElastiCache), or against `REDIS_CA_FILE` when a private CA signed it.
        let client = match &settings.redis_ca {
            Some(pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates { client_tls: None, root_cert: Some(pem.clone()) },
            ),
            None => redis::Client::open(url),
        }
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("REDIS_URL: {e}")))?;
        let timeout = settings.timeout;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.min(Duration::from_millis(500))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(100));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("redis connection manager: {e}")))?;
        Ok(Self { manager, prefix: format!("{}:", settings.table_prefix), timeout, io })
    }

    /// The full key for `name` under this deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs one command, bounded by the store timeout (the manager's own
    /// timeouts do not cover waiting for a reconnect).
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        self.bounded(async move { cmd.query_async::<T>(&mut conn).await }).await
    }

    /// Runs a pipeline (one round trip), bounded like [`Redis::query`].
    pub async fn pipeline<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        self.bounded(async move { pipe.query_async::<T>(&mut conn).await }).await
    }

    /// Runs a Lua script (EVALSHA, loading it on a miss), bounded like [`Redis::query`].
    pub async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.manager.clone();
        self.bounded(async move { invocation.invoke_async::<T>(&mut conn).await }).await
    }

    async fn bounded<T>(&self, fut: impl Future<Output = redis::RedisResult<T>>) -> Result<T, StoreError> {
        self.io.redis_round_trip();
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(classify(err)),
            Err(_) => Err(StoreError::unavailable(Store::Redis, anyhow::anyhow!("timed out after {:?}", self.timeout))),
        }
    }

    /// `PING`, for readiness.
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
    if err.is_io_error()
        || err.is_timeout()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_unrecoverable_error()
    {
        StoreError::unavailable(Store::Redis, err)
    } else {
        StoreError::Internal(anyhow::Error::new(err))
    }
}
