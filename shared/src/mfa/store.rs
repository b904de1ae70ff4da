//! Second factors in the `identity` table, in the user's partition `USER#<id>`:
//!
//! - `MFA#TOTP`: `secret` (Binary: the sealed secret, see `cipher`),
//!   `confirmed` (BOOL), `last_step` (N: the last time step accepted),
//!   `created_at_ms`.
//! - `MFA#RECOVERY`: `hashes` (String Set: the SHA-256 of each unused code),
//!   `created_at_ms`.
//! - `MFA#PASSKEY#<credential id>`: one per passkey (`passkey*.rs`), listed
//!   here generically by `name`, `created_at`, `last_used_at`.
//!
//! The user item carries the summary (`mfa_totp`, `mfa_passkeys`): every write
//! that enables or disables a factor changes it and bumps the user's
//! `version` in the same transaction, with its audit event; the caller then
//! publishes the user's new state (`identity::factors_changed`). Single use
//! is the store's to enforce: a time step is accepted by an update
//! conditioned on `last_step < step`, a recovery code by removing its hash
//! on the condition that it is still there.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::dynamo::{self, Failure, built, unless_gone};
use crate::db::item::{Item, b, key, n, opt_n, opt_s};
use crate::db::keys::user_pk;
use crate::db::{StoreError, Stores};
use crate::types::Timestamp;
use crate::users::{self, UserRecord};

/// The sort-key prefix of every factor item: "remove every factor" is every
/// item of the user's partition under it.
pub const PREFIX: &str = "MFA#";
pub const TOTP_SK: &str = "MFA#TOTP";
pub const RECOVERY_SK: &str = "MFA#RECOVERY";
pub const PASSKEY_PREFIX: &str = "MFA#PASSKEY#";

/// How many times a reset racing other writes to the user is tried.
const ATTEMPTS: usize = 12;

/// The stored TOTP enrolment.
#[derive(Clone)]
pub struct TotpRecord {
    /// `nonce ‖ ciphertext` of the secret.
    pub sealed: Vec<u8>,
    /// False while the enrolment waits for its first code.
    pub confirmed: bool,
    pub last_step: Option<u64>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord").field("confirmed", &self.confirmed).field("last_step", &self.last_step).finish()
    }
}

impl TotpRecord {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let sealed = item
            .get("secret")
            .and_then(|v| v.as_b().ok())
            .map(|blob| blob.as_ref().to_vec())
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a TOTP item lacks its secret")))?;
        Ok(Self {
            sealed,
            confirmed: item.get("confirmed").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
            last_step: opt_n(item, "last_step"),
            created_at: Timestamp::from_millis(opt_n(item, "created_at_ms").unwrap_or(0)),
        })
    }
}

/// A passkey as the factor list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyEntry {
    /// The credential id (the rest of the sort key).
    pub id: String,
    pub name: String,
    pub created_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// A time attribute written as milliseconds (`<name>_ms` or `<name>`) or as
/// RFC 3339 text.
fn time_attr(item: &Item, name: &str) -> Option<Timestamp> {
    opt_n::<i64>(item, &format!("{name}_ms"))
        .or_else(|| opt_n::<i64>(item, name))
        .map(Timestamp::from_millis)
        .or_else(|| opt_s(item, name).and_then(|text| Timestamp::parse(&text)))
}

/// Everything a user has enrolled, from one Query of their partition.
#[derive(Debug, Default)]
pub struct Factors {
    pub totp: Option<TotpRecord>,
    pub recovery_left: usize,
    pub passkeys: Vec<PasskeyEntry>,
}

/// The user's factor items (one Query; no secret leaves this module but the
/// sealed TOTP secret).
pub async fn factors(stores: &Stores, user_id: u64) -> Result<Factors, StoreError> {
    let items = factor_items(stores, user_id).await?;
    let mut found = Factors::default();
    for item in &items {
        let sk = item.get("sk").and_then(|v| v.as_s().ok()).map_or("", String::as_str);
        if sk == TOTP_SK {
            found.totp = Some(TotpRecord::from_item(item)?);
        } else if sk == RECOVERY_SK {
            found.recovery_left = hashes_in(item).len();
        } else if let Some(id) = sk.strip_prefix(PASSKEY_PREFIX) {
            found.passkeys.push(PasskeyEntry {
                id: id.to_owned(),
                name: opt_s(item, "name").unwrap_or_default(),
                created_at: time_attr(item, "created_at"),
                last_used_at: time_attr(item, "last_used_at"),
            });
        }
    }
    found.passkeys.sort_by_key(|p| p.created_at.map(Timestamp::millis));
    Ok(found)
}

fn hashes_in(item: &Item) -> Vec<String> {
    item.get("hashes").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default()
}

/// Every factor item of the user, read strongly consistent: a reset must see
/// a factor whose enrolment committed before it read the user's version.
async fn factor_items(stores: &Stores, user_id: u64) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = stores
            .dynamo
            .query()
            .table_name(&stores.tables.identity)
            .key_condition_expression("pk = :p AND begins_with(sk, :prefix)")
            .expression_attribute_values(":p", AttributeValue::S(user_pk(user_id)))
            .expression_attribute_values(":prefix", AttributeValue::S(PREFIX.to_owned()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dynamo::store_error)?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

/// The user's TOTP enrolment (strongly consistent).
pub async fn totp(stores: &Stores, user_id: u64) -> Result<Option<TotpRecord>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, user_pk(user_id), TOTP_SK).await?;
    item.as_ref().map(TotpRecord::from_item).transpose()
}

/// Why a factor write was not made.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    /// The factor was not in the state the write expected: enabled
    /// already, not enabled, or replaced meanwhile.
    #[error("the factor is not in the expected state")]
    Conflict,
    /// The user no longer exists (or may no longer act).
    #[error("user not found")]
    UserGone,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a factor write changes the user's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryChange {
    /// `mfa_totp` becomes this.
    Totp(bool),
    /// `mfa_passkeys` moves by this; with `cap`, only while the count is below it.
    Passkeys { delta: i64, cap: Option<u32> },
}

/// The update of the user item that goes with a factor write, as a
/// transaction action: the summary changes and `version` moves on, on the
/// condition that the user exists (so a factor is never added to a user
/// deleted meanwhile).
pub fn summary_update(stores: &Stores, user_id: u64, change: SummaryChange) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(user_id), "USER")))
        .expression_attribute_values(":one", n(1));
    let update = match change {
        SummaryChange::Totp(on) => update
            .update_expression("SET mfa_totp = :on ADD version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":on", b(on)),
        SummaryChange::Passkeys { delta, cap } => {
            let update = update
                .update_expression("ADD mfa_passkeys :d, version :one")
                .expression_attribute_values(":d", n(delta));
            match cap {
                Some(cap) => update
                    .condition_expression(
                        "attribute_exists(pk) AND (attribute_not_exists(mfa_passkeys) OR mfa_passkeys < :cap)",
                    )
                    .expression_attribute_values(":cap", n(cap)),
                None => update.condition_expression("attribute_exists(pk)"),
            }
        }
    };
    Ok(TransactWriteItem::builder().update(built(update.build())?).build())
}

fn totp_key(user_id: u64) -> Item {
    key(user_pk(user_id), TOTP_SK)
}

fn recovery_key(user_id: u64) -> Item {
    key(user_pk(user_id), RECOVERY_SK)
}

fn recovery_put(stores: &Stores, user_id: u64, hashes: &[String]) -> Result<TransactWriteItem, StoreError> {
    let mut item = recovery_key(user_id);
    item.insert("hashes".into(), AttributeValue::Ss(hashes.to_vec()));
    item.insert("created_at_ms".into(), n(Timestamp::now().millis()));
    let put = built(Put::builder().table_name(&stores.tables.identity).set_item(Some(item)).build())?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Runs a factor transaction (with its actor's check, see `audit::actor`):
/// a failed condition at `factor` is a [`FactorError::Conflict`], at `user`
/// a [`FactorError::UserGone`].
async fn transact(
    stores: &Stores,
    items: Vec<TransactWriteItem>,
    factor: usize,
    user: Option<usize>,
) -> Result<(), FactorError> {
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(reasons)) => {
            let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
            if failed(factor) {
                Err(FactorError::Conflict)
            } else if user.is_some_and(failed) {
                Err(FactorError::UserGone)
            } else if reasons.iter().any(|r| r == "TransactionConflict") {
                // A concurrent write to the same items: as if it had come first.
                Err(FactorError::Conflict)
            } else {
                Err(StoreError::Internal(anyhow::anyhow!("factor write cancelled: {reasons:?}")).into())
            }
        }
        Err(Failure::ConditionFailed) => Err(FactorError::Conflict),
        Err(Failure::Store(e)) => Err(e.into()),
    }
}

/// Stores a new, unconfirmed TOTP enrolment (replacing an unconfirmed one),
/// with its audit event. `Conflict` while TOTP is enabled.
pub async fn put_pending_totp(
    stores: &Stores,
    user_id: u64,
    sealed: &[u8],
    event: &AuditEvent,
) -> Result<(), FactorError> {
    let mut item = totp_key(user_id);
    item.insert("secret".into(), AttributeValue::B(Blob::new(sealed.to_vec())));
    item.insert("confirmed".into(), b(false));
    item.insert("created_at_ms".into(), n(Timestamp::now().millis()));
    let put = built(
        Put::builder()
            .table_name(&stores.tables.identity)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR confirmed = :no")
            .expression_attribute_values(":no", b(false))
            .build(),
    )?;
    let items = vec![TransactWriteItem::builder().put(put).build(), event.transact_put(stores)?];
    transact(stores, items, 0, None).await
}

/// Enables the pending enrolment whose sealed secret is `sealed` (not one
/// that replaced it meanwhile): its first code's `step` is used, the
/// recovery codes `hashes` replace any old ones, the summary says TOTP.
/// `Conflict` when the enrolment changed or was confirmed meanwhile.
pub async fn confirm_totp(
    stores: &Stores,
    user_id: u64,
    sealed: &[u8],
    step: u64,
    hashes: &[String],
    event: &AuditEvent,
) -> Result<(), FactorError> {
    let confirm = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(totp_key(user_id)))
            .update_expression("SET confirmed = :yes, last_step = :step, confirmed_at_ms = :now")
            .condition_expression("confirmed = :no AND secret = :sealed")
            .expression_attribute_values(":yes", b(true))
            .expression_attribute_values(":no", b(false))
            .expression_attribute_values(":step", n(step))
            .expression_attribute_values(":now", n(Timestamp::now().millis()))
            .expression_attribute_values(":sealed", AttributeValue::B(Blob::new(sealed.to_vec())))
            .build(),
    )?;
    let items = vec![
        TransactWriteItem::builder().update(confirm).build(),
        recovery_put(stores, user_id, hashes)?,
        summary_update(stores, user_id, SummaryChange::Totp(true))?,
        event.transact_put(stores)?,
    ];
    transact(stores, items, 0, Some(2)).await
}

/// Accepts time step `step` of the user's enabled TOTP, unless that step or
/// a later one was accepted before: of any number of concurrent uses of one
/// code, one gets `true`.
pub async fn accept_step(stores: &Stores, user_id: u64, step: u64) -> Result<bool, StoreError> {
    let result = stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(totp_key(user_id)))
        .update_expression("SET last_step = :step")
        .condition_expression("confirmed = :yes AND (attribute_not_exists(last_step) OR last_step < :step)")
        .expression_attribute_values(":yes", b(true))
        .expression_attribute_values(":step", n(step))
        .send()
        .await;
    Ok(unless_gone(result)?.is_some())
}

/// Disables TOTP: its item and the recovery codes go, the summary says no
/// TOTP. `Conflict` when TOTP is not enabled.
pub async fn remove_totp(stores: &Stores, user_id: u64, event: &AuditEvent) -> Result<(), FactorError> {
    let table = &stores.tables.identity;
    let delete = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(totp_key(user_id)))
            .condition_expression("confirmed = :yes")
            .expression_attribute_values(":yes", b(true))
            .build(),
    )?;
    let codes = built(Delete::builder().table_name(table).set_key(Some(recovery_key(user_id))).build())?;
    let items = vec![
        TransactWriteItem::builder().delete(delete).build(),
        TransactWriteItem::builder().delete(codes).build(),
        summary_update(stores, user_id, SummaryChange::Totp(false))?,
        event.transact_put(stores)?,
    ];
    transact(stores, items, 0, Some(2)).await
}

/// Replaces the recovery codes with `hashes` while TOTP is enabled
/// (`Conflict` otherwise).
pub async fn replace_recovery(
    stores: &Stores,
    user_id: u64,
    hashes: &[String],
    event: &AuditEvent,
) -> Result<(), FactorError> {
    let enabled = built(
        ConditionCheck::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(totp_key(user_id)))
            .condition_expression("confirmed = :yes")
            .expression_attribute_values(":yes", b(true))
            .build(),
    )?;
    let items = vec![
        TransactWriteItem::builder().condition_check(enabled).build(),
        recovery_put(stores, user_id, hashes)?,
        event.transact_put(stores)?,
    ];
    transact(stores, items, 0, None).await
}

/// Uses the recovery code whose hash is `hash`: removes it on the condition
/// that it is still there, with the audit event of its use. Of concurrent
/// uses of one code, one gets `true`.
pub async fn use_recovery(stores: &Stores, user_id: u64, hash: &str, event: &AuditEvent) -> Result<bool, StoreError> {
    let spend = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(recovery_key(user_id)))
            .update_expression("DELETE hashes :set")
            .condition_expression("contains(hashes, :hash)")
            .expression_attribute_values(":set", AttributeValue::Ss(vec![hash.to_owned()]))
            .expression_attribute_values(":hash", AttributeValue::S(hash.to_owned()))
            .build(),
    )?;
    let items = vec![TransactWriteItem::builder().update(spend).build(), event.transact_put(stores)?];
    match transact(stores, items, 0, None).await {
        Ok(()) => Ok(true),
        Err(FactorError::Conflict) => Ok(false),
        Err(FactorError::UserGone) => Ok(false),
        Err(FactorError::Store(e)) => Err(e),
    }
}

/// What a reset removed.
#[derive(Debug)]
pub struct Reset {
    /// The user as they were before.
    pub user: UserRecord,
    pub items_removed: usize,
}

/// Removes every factor of the user (TOTP, recovery codes, passkeys) and
/// zeroes the summary in one transaction conditioned on the user's version,
/// so a factor enrolled meanwhile is not left behind with a summary of none
/// (the write is tried again). The credential generation moves on as well:
/// the user's sessions, and a login waiting for its second factor, end with
/// the factors they were opened with. `audit` describes the event once the
/// user is read.
pub async fn remove_all(
    stores: &Stores,
    user_id: u64,
    audit: impl Fn(&UserRecord, usize) -> AuditEvent,
) -> Result<Reset, FactorError> {
    let table = &stores.tables.identity;
    for _ in 0..ATTEMPTS {
        let user = users::get(stores, user_id).await?.ok_or(FactorError::UserGone)?;
        // At most 12 items (TOTP, recovery codes, 10 passkeys: the cap), so
        // they and the summary fit one transaction with the admin's check.
        let found = factor_items(stores, user_id).await?;
        let mut items = Vec::with_capacity(found.len() + 2);
        for item in &found {
            let k: Item =
                ["pk", "sk"].iter().filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone()))).collect();
            items.push(
                TransactWriteItem::builder()
                    .delete(built(Delete::builder().table_name(table).set_key(Some(k)).build())?)
                    .build(),
            );
        }
        let user_index = items.len();
        let update = built(
            Update::builder()
                .table_name(table)
                .set_key(Some(key(user_pk(user_id), "USER")))
                .update_expression("SET mfa_totp = :no, mfa_passkeys = :zero, version = :next, cred_epoch = :epoch")
                .condition_expression("version = :v")
                .expression_attribute_values(":no", b(false))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":v", n(user.version))
                .expression_attribute_values(":next", n(user.version + 1))
                .expression_attribute_values(":epoch", n(user.epoch + 1))
                .build(),
        )?;
        items.push(TransactWriteItem::builder().update(update).build());
        items.push(audit(&user, found.len()).transact_put(stores)?);
        match transact(stores, items, user_index, None).await {
            Ok(()) => return Ok(Reset { user, items_removed: found.len() }),
            // The user (or one of the items) changed meanwhile: read again.
            Err(FactorError::Conflict) => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(other) => return Err(other),
        }
    }
    Err(FactorError::Conflict)
}

async fn delete_items(stores: &Stores, items: &[Item]) -> Result<(), StoreError> {
    for item in items {
        let k: Item = ["pk", "sk"].iter().filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone()))).collect();
        stores
            .dynamo
            .delete_item()
            .table_name(&stores.tables.identity)
            .set_key(Some(k))
            .send()
            .await
            .map_err(dynamo::store_error)?;
    }
    Ok(())
}

/// Deletes every factor item of a deleted user (the user item is gone, so
/// there is no summary to keep in step).
pub async fn delete_all_items(stores: &Stores, user_id: u64) -> Result<(), StoreError> {
    let found = factor_items(stores, user_id).await?;
    delete_items(stores, &found).await
}
