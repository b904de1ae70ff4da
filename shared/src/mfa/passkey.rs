//! Passkeys (WebAuthn credentials) as stored: one item per passkey in the
//! user's partition of the `identity` table, `USER#<id>` /
//! `MFA#PASSKEY#<credential id, base64url>`, with `name`, `created_at_ms`,
//! `last_used_at_ms` and `credential` (the webauthn-rs `Passkey` as JSON: the
//! public key and the signature counter, nothing secret).
//!
//! The user item counts them (`mfa_passkeys`, see `mfa::model`): adding and
//! removing one changes the count and the user's version in the same
//! transaction as the passkey item and its audit event, and the cap on how
//! many a user may hold is a condition of that transaction, so concurrent
//! registrations cannot pass it.
//!
//! Beside the store: the relying party (`rp`), the ceremonies' state in
//! Redis (`ceremony`), registering and managing passkeys (`register`) and
//! logging in with one (`login`).

pub mod ceremony;
pub mod login;
pub mod register;
pub mod rp;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use webauthn_rs::prelude::Passkey;

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::dynamo::{self, Failure, built, unless_gone};
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, s};
use crate::db::keys::user_pk;
use crate::db::{StoreError, Stores};
use crate::error::{ApiError, ApiResult};
use crate::mfa::view::PasskeyView;
use crate::types::Timestamp;

/// The relying party, or the 503 that says passkeys are not set up here.
pub fn available(rp: Option<&rp::RelyingParty>) -> ApiResult<&rp::RelyingParty> {
    rp.ok_or_else(|| {
        ApiError::unavailable(
            "passkeys_unavailable",
            "Passkeys are not configured on this server: set PUBLIC_URL to its https:// address \
             (or WEBAUTHN_RP_ID and WEBAUTHN_ORIGIN); a relying party cannot be an IP address",
        )
    })
}

/// The most passkeys one user may register.
pub const MAX_PER_USER: u32 = 10;
/// The longest passkey name, in characters.
pub const NAME_MAX: usize = 64;
/// The longest credential id accepted, in bytes (WebAuthn allows 1023, but
/// authenticators use 16 to 64; the id is part of a DynamoDB key, whose sort
/// key may not pass 1 KiB).
pub const CREDENTIAL_ID_MAX: usize = 255;

/// The sort-key prefix of every passkey item (and, with `MFA#`, of every
/// second-factor item: the admin reset deletes them all).
pub const SK_PREFIX: &str = "MFA#PASSKEY#";

fn sort_key(id: &str) -> String {
    format!("{SK_PREFIX}{id}")
}

/// The id of a credential as the API and the store name it: its bytes in
/// base64url without padding.
pub fn credential_id(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct PasskeyRecord {
    pub user_id: u64,
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub passkey: Passkey,
}

impl PasskeyRecord {
    /// The passkey as the API shows it (never the key material).
    pub fn view(&self) -> PasskeyView {
        PasskeyView {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: Some(self.created_at),
            last_used_at: self.last_used_at,
        }
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let pk = get_s(item, "pk")?;
        let sk = get_s(item, "sk")?;
        let user_id = pk.strip_prefix("USER#").and_then(|id| id.parse().ok());
        let (Some(user_id), Some(id)) = (user_id, sk.strip_prefix(SK_PREFIX)) else {
            return Err(StoreError::Internal(anyhow::anyhow!("passkey item under {pk}/{sk}")));
        };
        let credential = get_s(item, "credential")?;
        let passkey = serde_json::from_str(&credential)
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("stored passkey {id} of user {user_id}: {e}")))?;
        Ok(Self {
            user_id,
            id: id.to_owned(),
            name: get_s(item, "name")?,
            created_at: Timestamp::from_millis(get_n(item, "created_at_ms")?),
            last_used_at: opt_n(item, "last_used_at_ms").map(Timestamp::from_millis),
            passkey,
        })
    }

    fn to_item(&self) -> Result<Item, StoreError> {
        let credential = serde_json::to_string(&self.passkey).map_err(|e| StoreError::Internal(e.into()))?;
        let mut item = key(user_pk(self.user_id), sort_key(&self.id));
        item.extend([
            ("name".to_owned(), s(&self.name)),
            ("created_at_ms".to_owned(), n(self.created_at.millis())),
            ("credential".to_owned(), s(credential)),
        ]);
        if let Some(at) = self.last_used_at {
            item.insert("last_used_at_ms".to_owned(), n(at.millis()));
        }
        Ok(item)
    }
}

/// Why a passkey write was not made.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no such passkey")]
    NotFound,
    #[error("the user holds the most passkeys allowed")]
    TooMany,
    #[error("this passkey is registered already")]
    Duplicate,
    /// The user is gone (or, for the actor's check, may no longer act).
    #[error("no such user")]
    UserGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The user's passkeys, oldest first.
pub async fn list(stores: &Stores, user_id: u64) -> Result<Vec<PasskeyRecord>, StoreError> {
    let items = dynamo::query_all(
        &stores.dynamo,
        &stores.tables.identity,
        None,
        "pk",
        &user_pk(user_id),
        Some(("sk", SK_PREFIX)),
    )
    .await?;
    let mut found = items.iter().map(PasskeyRecord::from_item).collect::<Result<Vec<_>, _>>()?;
    found.sort_by(|a, b| a.created_at.millis().cmp(&b.created_at.millis()).then_with(|| a.id.cmp(&b.id)));
    Ok(found)
}

/// One of the user's passkeys, by credential id.
pub async fn get(stores: &Stores, user_id: u64, id: &str) -> Result<Option<PasskeyRecord>, StoreError> {
    if id.is_empty() || id.len() > CREDENTIAL_ID_MAX * 4 / 3 + 4 {
        return Ok(None);
    }
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, user_pk(user_id), &sort_key(id)).await?;
    item.as_ref().map(PasskeyRecord::from_item).transpose()
}

/// `ADD mfa_passkeys :delta, version :one` on the user item, which must exist;
/// when adding, only below [`MAX_PER_USER`].
fn count_action(stores: &Stores, user_id: u64, delta: i64) -> Result<TransactWriteItem, StoreError> {
    let mut update = Update::builder()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(user_id), "USER")))
        .update_expression("ADD mfa_passkeys :delta, version :one")
        .expression_attribute_values(":delta", n(delta))
        .expression_attribute_values(":one", n(1));
    update = if delta > 0 {
        update
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(mfa_passkeys) OR mfa_passkeys < :cap)",
            )
            .expression_attribute_values(":cap", n(MAX_PER_USER))
    } else {
        update.condition_expression("attribute_exists(pk)")
    };
    Ok(TransactWriteItem::builder().update(built(update.build())?).build())
}

/// Why a transaction whose action 0 is the passkey's and action 1 the user
/// count's was cancelled.
fn cancelled(reasons: &[String], passkey_failed: WriteError, count_failed: WriteError) -> WriteError {
    let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
    if failed(0) {
        passkey_failed
    } else if failed(1) {
        count_failed
    } else {
        WriteError::Store(StoreError::Internal(anyhow::anyhow!("passkey write cancelled: {reasons:?}")))
    }
}

/// Stores a new passkey with its audit event, counting it on the user item.
/// `TooMany` at the cap; `UserGone` when the user no longer exists (or may
/// no longer act; see `audit::actor`).
pub async fn add(stores: &Stores, record: &PasskeyRecord, event: &AuditEvent) -> Result<(), WriteError> {
    let items = vec![
        dynamo::put_new(&stores.tables.identity, record.to_item()?)?,
        count_action(stores, record.user_id, 1)?,
        event.transact_put(stores)?,
    ];
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(reasons)) => {
            let over = cancelled(&reasons, WriteError::Duplicate, WriteError::TooMany);
            // The count's condition also fails for a user who is gone or
            // inactive (the actor's check joins it); tell them apart.
            if matches!(over, WriteError::TooMany) {
                return match crate::users::get(stores, record.user_id).await? {
                    Some(user) if user.is_active && user.mfa.passkeys >= MAX_PER_USER => Err(WriteError::TooMany),
                    _ => Err(WriteError::UserGone),
                };
            }
            Err(over)
        }
        Err(Failure::ConditionFailed) => Err(WriteError::Duplicate),
        Err(Failure::Store(StoreError::ActorRevoked)) => Err(WriteError::UserGone),
        Err(Failure::Store(e)) => Err(e.into()),
    }
}

/// Renames a passkey, with its audit event.
pub async fn rename(stores: &Stores, user_id: u64, id: &str, name: &str, event: &AuditEvent) -> Result<(), WriteError> {
    let update = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(user_id), sort_key(id))))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .build(),
    )?;
    let items = vec![TransactWriteItem::builder().update(update).build(), event.transact_put(stores)?];
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(reasons)) => {
            Err(cancelled(&reasons, WriteError::NotFound, WriteError::Store(StoreError::ActorRevoked)))
        }
        Err(Failure::ConditionFailed) => Err(WriteError::NotFound),
        Err(Failure::Store(e)) => Err(e.into()),
    }
}

/// Deletes a passkey with its audit event, uncounting it on the user item.
pub async fn remove(stores: &Stores, user_id: u64, id: &str, event: &AuditEvent) -> Result<(), WriteError> {
    let delete = built(
        Delete::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(user_id), sort_key(id))))
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    let items = vec![
        TransactWriteItem::builder().delete(delete).build(),
        count_action(stores, user_id, -1)?,
        event.transact_put(stores)?,
    ];
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(reasons)) => {
            Err(cancelled(&reasons, WriteError::NotFound, WriteError::UserGone))
        }
        Err(Failure::ConditionFailed) => Err(WriteError::NotFound),
        Err(Failure::Store(StoreError::ActorRevoked)) => Err(WriteError::UserGone),
        Err(Failure::Store(e)) => Err(e.into()),
    }
}

/// After a successful assertion: when it was used, and the credential as the
/// assertion left it (its signature counter). A passkey deleted meanwhile
/// stays deleted.
pub async fn record_use(stores: &Stores, record: &PasskeyRecord, at: Timestamp) -> Result<(), StoreError> {
    let credential = serde_json::to_string(&record.passkey).map_err(|e| StoreError::Internal(e.into()))?;
    let result = stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(record.user_id), sort_key(&record.id))))
        .update_expression("SET last_used_at_ms = :t, credential = :c")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":t", n(at.millis()))
        .expression_attribute_values(":c", s(credential))
        .send()
        .await;
    unless_gone(result).map(|_| ())
}
