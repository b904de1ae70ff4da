//! DynamoDB and Redis plumbing, with no domain types: the clients, item
//! helpers, table definitions and I/O counters. Each aggregate's own keys,
//! queries and conditional writes live in its folder (`users/store.rs`, …);
//! handlers reach the stores only through those.

/// SDK types that cross the store boundary (transaction actions built by
/// several modules for one transaction).
pub mod aws {
    pub use aws_sdk_dynamodb::types::TransactWriteItem;
}
pub mod dynamo;
pub mod io;
pub mod item;
pub mod keys;
pub mod kv;
pub mod tables;

use std::fmt;

pub use tables::Tables;

use crate::config::StoreSettings;

/// Which backing store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    DynamoDb,
    Redis,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DynamoDb => "DynamoDB",
            Self::Redis => "Redis",
        })
    }
}

/// What a store call can fail with, as far as callers care: the store is
/// unreachable (answer 503 and let the client retry), or something unexpected
/// (a bug; answer 500 and log it). Outcomes that carry meaning, such as a failed
/// condition, are returned by the aggregate modules as their own results.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{store} unavailable: {source:#}")]
    Unavailable { store: Store, source: anyhow::Error },
    #[error(transparent)]
    Internal(anyhow::Error),
    /// The acting user lost the right to act (demoted, deactivated, deleted)
    /// before the write could commit; the write was not made.
    #[error("the actor may no longer act")]
    ActorRevoked,
}

impl StoreError {
    pub fn unavailable(store: Store, source: impl Into<anyhow::Error>) -> Self {
        Self::Unavailable { store, source: source.into() }
    }
}

/// The clients, built once at start and shared by every request.
#[derive(Clone)]
pub struct Stores {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub redis: kv::Redis,
    pub tables: Tables,
    /// Round trips made through these clients.
    pub io: std::sync::Arc<io::IoCounters>,
    /// How long audit events live (days): every write that records one sets its expiry.
    pub audit_retention_days: u32,
}

impl Stores {
    /// Builds the clients; nothing is contacted yet.
    pub async fn connect(settings: &StoreSettings, endpoint: &dynamo::Endpoint) -> Result<Self, StoreError> {
        let io = std::sync::Arc::new(io::IoCounters::default());
        Ok(Self {
            dynamo: dynamo::connect(endpoint, settings.timeout, std::sync::Arc::clone(&io)).await,
            redis: kv::Redis::connect(settings, std::sync::Arc::clone(&io))?,
            tables: Tables::new(&settings.table_prefix),
            io,
            audit_retention_days: settings.audit_retention_days,
        })
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores").field("tables", &self.tables).finish_non_exhaustive()
    }
}
