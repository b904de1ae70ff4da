//! The append-only audit log (SPEC section 6). Events carry who, what, on what,
//! the outcome, the client address and the request id, and never a secret.
//!
//! Key layout in the `audit` table: `pk = DAY#<yyyy-mm-dd>`, `sk = <ms>#<id>`
//! (newest-first reads per day), `gsi1pk = ACTOR#<actor>` (per-actor reads),
//! `ttl` = time + retention.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::Serialize;

use super::item::{Item, n, s};
use super::{StoreError, Stores, dynamo::store_error};
use crate::model::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
    Throttled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
            Self::Throttled => "throttled",
        }
    }
}

/// One audit event.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: Timestamp,
    /// Username of the actor, `_system` for the admin secret or disabled auth,
    /// `_anonymous` for unauthenticated callers.
    pub actor: String,
    pub actor_id: Option<u64>,
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: Outcome,
    /// A short machine reason for failures (`wrong_password`, `throttled`, …).
    pub reason: Option<&'static str>,
    pub client: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEvent {
    fn item(&self, retention_days: u32) -> Item {
        let sk = format!("{:013}#{}", self.at.millis(), self.id);
        let day = self.at.rfc3339().get(..10).unwrap_or("1970-01-01").to_owned();
        let ttl = self.at.seconds() + i64::from(retention_days) * 86_400;
        let mut item = Item::from([
            ("pk".to_owned(), s(format!("DAY#{day}"))),
            ("sk".to_owned(), s(sk.clone())),
            ("gsi1pk".to_owned(), s(format!("ACTOR#{}", self.actor))),
            ("gsi1sk".to_owned(), s(sk)),
            ("id".to_owned(), s(&self.id)),
            ("at".to_owned(), s(self.at.rfc3339())),
            ("at_ms".to_owned(), n(self.at.millis())),
            ("actor".to_owned(), s(&self.actor)),
            ("action".to_owned(), s(self.action)),
            ("outcome".to_owned(), s(self.outcome.as_str())),
            ("ttl".to_owned(), n(ttl)),
        ]);
        if let Some(id) = self.actor_id {
            item.insert("actor_id".into(), n(id));
        }
        for (name, value) in [
            ("target", self.target.as_deref()),
            ("reason", self.reason),
            ("client", self.client.as_deref()),
            ("request_id", self.request_id.as_deref()),
        ] {
            if let Some(v) = value {
                item.insert(name.into(), s(v));
            }
        }
        item
    }

    /// The event as one action of a transaction, so it is written exactly when
    /// the change it records is.
    pub fn transact_put(&self, stores: &Stores, retention_days: u32) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&stores.tables.audit)
            .set_item(Some(self.item(retention_days)))
            .build()
            .map_err(|e| StoreError::Internal(e.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Appends an event on its own (for actions that write no DynamoDB item).
pub async fn record(stores: &Stores, event: &AuditEvent, retention_days: u32) -> Result<(), StoreError> {
    stores
        .dynamo
        .put_item()
        .table_name(&stores.tables.audit)
        .set_item(Some(event.item(retention_days)))
        .send()
        .await
        .map_err(store_error)?;
    Ok(())
}
