//! Rotation: a token gets a new secret under the same id, name, grant and
//! expiry, and the old secret keeps working for a stated overlap
//! (`TOKEN_ROTATION_OVERLAP_SECS`), so a script can switch without a gap.
//!
//! One transaction moves the id and name lookups to the new secret (on the
//! condition that they still point at the old one, so of two concurrent
//! rotations one wins), shortens the old record's expiry to the end of the
//! overlap and unlists it, and forgets the secret an earlier rotation left
//! (one overlap at a time). The old secret's cache entry is replaced after
//! the write with its shortened expiry, unless a revocation or a later
//! rotation has tombstoned it meanwhile (`cache::shorten`). Should the process die in between,
//! the old entry lapses on its own within `cache.rs`'s 10 minutes (the
//! default overlap is as long, so then nothing outlives it).

use std::time::Duration;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::crypto::sha256_hex;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{key, n, s};
use crate::db::{StoreError, Stores};
use crate::tokens::cache;
use crate::tokens::format::{display_prefix, new_secret};
use crate::tokens::store::{TokenRecord, delete, id_pk, name_pk, token_pk};
use crate::types::Timestamp;

/// A rotated token: the new secret (shown once), its record, and until when
/// the old secret still works.
pub struct Rotated {
    pub token: String,
    pub record: TokenRecord,
    pub previous_valid_until: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// Revoked or rotated by another request meanwhile.
    #[error("the token changed meanwhile")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rotates `current` (the token's current record, as `get_by_id` gives it).
pub async fn rotate(
    stores: &Stores,
    current: &TokenRecord,
    overlap: Duration,
    audit: &AuditEvent,
) -> Result<Rotated, RotateError> {
    let now = Timestamp::now();
    let overlap_end = now.plus_secs(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
    let until = current.expires_at.map_or(overlap_end, |e| e.min(overlap_end));
    let token = new_secret(current.user_id);
    let record = TokenRecord {
        prefix: display_prefix(&token),
        hash: sha256_hex(&token),
        last_used_at: None,
        rotated: false,
        previous_hash: Some(current.hash.clone()),
        ..current.clone()
    };
    let table = &stores.tables.tokens;
    let retire = Update::builder()
        .table_name(table)
        .set_key(Some(key(token_pk(&current.hash), "TOKEN")))
        .update_expression("SET expires_at_ms = :until, rotated_at_ms = :now REMOVE gsi1pk, gsi1sk, previous_hash")
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(rotated_at_ms)")
        .expression_attribute_values(":until", n(until.millis()))
        .expression_attribute_values(":now", n(now.millis()));
    let repoint = |pk: String, sk: &str| -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET #h = :new")
            .condition_expression("#h = :old")
            .expression_attribute_names("#h", "hash")
            .expression_attribute_values(":new", s(&record.hash))
            .expression_attribute_values(":old", s(&current.hash));
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    };
    let mut items = vec![
        TransactWriteItem::builder().update(built(retire.build())?).build(),
        dynamo::put_new(table, record.to_item())?,
        repoint(id_pk(current.id), "TOKENID")?,
        repoint(name_pk(current.user_id, &current.name), "TOKENNAME")?,
        audit.transact_put(stores)?,
    ];
    if let Some(older) = &current.previous_hash {
        cache::tombstone(&stores.redis, current.id, current.user_id, older).await?;
        items.push(delete(table, token_pk(older), "TOKEN")?);
    }
    match actor::transact(stores, items).await {
        Ok(()) => {}
        Err(Failure::TransactionCanceled(_) | Failure::ConditionFailed) => return Err(RotateError::Changed),
        Err(Failure::Store(e)) => return Err(e.into()),
    }
    let retired = TokenRecord { expires_at: Some(until), rotated: true, previous_hash: None, ..current.clone() };
    cache::shorten(&stores.redis, current.user_id, &current.hash, &retired.cache_entry()).await?;
    Ok(Rotated { token, record, previous_valid_until: until })
}
