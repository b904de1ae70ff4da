//! Memberships: an item `GROUP#<gid>`/`MEMBER#<uid>` per member (the group's
//! member list) plus the group id in the user item's `group_ids` set, changed
//! together in one transaction that also bumps the user's version (so the
//! cached user takes it) and keeps the group's `member_count` exact.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::store::{GroupError, get, group_pk, member_sk, name_pk, run, tx_failed, unexpected};
use crate::audit::AuditEvent;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, get_n, key, n};
use crate::db::keys::user_pk;
use crate::db::{StoreError, Stores};
use crate::types::Timestamp;

/// The user ids of a group's members (all of them; groups are small).
pub async fn member_ids(stores: &Stores, id: u64) -> Result<Vec<u64>, StoreError> {
    let members = Some(("sk", "MEMBER#"));
    let items = dynamo::query_all(&stores.dynamo, &stores.tables.identity, None, "pk", &group_pk(id), members).await?;
    items.iter().map(|item| get_n(item, "user_id")).collect()
}

/// Adds or removes `group_id` in the user's set, bumping the user's version
/// (`verb` is `ADD` or `DELETE`); the user must exist.
fn user_set_action(stores: &Stores, verb: &str, group_id: u64, user_id: u64) -> Result<TransactWriteItem, StoreError> {
    let expression =
        if verb == "ADD" { "ADD group_ids :g, version :one" } else { "DELETE group_ids :g ADD version :one" };
    let update = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(user_id), "USER")))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":g", AttributeValue::Ns(vec![group_id.to_string()]))
            .expression_attribute_values(":one", n(1))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Changes the group's member count by `delta`; the group must exist.
fn count_action(stores: &Stores, group_id: u64, delta: i64) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(group_pk(group_id), "GROUP")))
            .update_expression("ADD member_count :d")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":d", n(delta))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The actions that add `user_id` to `group_id`: the member item, the id in
/// the user's set (with a version bump), one more in the group's count. They
/// fail if the group or the user does not exist, or the user is a member already.
pub fn join_actions(
    stores: &Stores,
    group_id: u64,
    user_id: u64,
    user_exists: bool,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let table = &stores.tables.identity;
    let mut member = key(group_pk(group_id), member_sk(user_id));
    member.insert("user_id".into(), n(user_id));
    member.insert("joined_at_ms".into(), n(Timestamp::now().millis()));
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(member))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    let mut actions = vec![TransactWriteItem::builder().put(put).build(), count_action(stores, group_id, 1)?];
    if user_exists {
        actions.push(user_set_action(stores, "ADD", group_id, user_id)?);
    }
    Ok(actions)
}

/// Adds a member. `Ok(false)`: they were a member already.
pub async fn add_member(stores: &Stores, group_id: u64, user_id: u64, audit: &AuditEvent) -> Result<bool, GroupError> {
    let mut items = join_actions(stores, group_id, user_id, true)?;
    items.push(audit.transact_put(stores)?);
    match run(stores, items).await {
        Ok(()) => Ok(true),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 1) => Err(GroupError::NotFound),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 2) => Err(GroupError::UserNotFound),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => Ok(false),
        Err(other) => Err(unexpected("adding a member", other)),
    }
}

/// Removes a member. `Ok(false)`: they were not a member.
pub async fn remove_member(
    stores: &Stores,
    group_id: u64,
    user_id: u64,
    audit: Option<&AuditEvent>,
) -> Result<bool, GroupError> {
    let table = &stores.tables.identity;
    let member = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key(group_pk(group_id), member_sk(user_id))))
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    // The user may be gone (a deleted user's memberships are swept after it).
    let mut items = vec![TransactWriteItem::builder().delete(member).build(), count_action(stores, group_id, -1)?];
    let user_exists = crate::users::get(stores, user_id).await?.is_some();
    if user_exists {
        items.push(user_set_action(stores, "DELETE", group_id, user_id)?);
    }
    if let Some(event) = audit {
        items.push(event.transact_put(stores)?);
    }
    match run(stores, items).await {
        Ok(()) => Ok(true),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => Ok(false),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 1) => Err(GroupError::NotFound),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 2) => Err(GroupError::Contended),
        Err(other) => Err(unexpected("removing a member", other)),
    }
}

/// Deletes a group: first its memberships (each user's set and version with
/// them), then the group and its name, on the condition that no member is
/// left. A deletion interrupted half-way leaves a smaller group, never a
/// member of a group that does not exist; running it again completes it.
pub async fn delete(stores: &Stores, id: u64, audit: &AuditEvent) -> Result<Vec<u64>, GroupError> {
    let group = get(stores, id).await?.ok_or(GroupError::NotFound)?;
    let mut removed = Vec::new();
    for _ in 0..5 {
        for user_id in member_ids(stores, id).await? {
            match remove_member(stores, id, user_id, None).await {
                Ok(_) | Err(GroupError::Contended) => removed.push(user_id),
                Err(e) => return Err(e),
            }
        }
        let table = &stores.tables.identity;
        let remove = built(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key(group_pk(id), "GROUP")))
                .condition_expression("member_count = :zero")
                .expression_attribute_values(":zero", n(0))
                .build(),
        )?;
        let release =
            built(Delete::builder().table_name(table).set_key(Some(key(name_pk(&group.name), "GROUPNAME"))).build())?;
        let items = vec![
            TransactWriteItem::builder().delete(remove).build(),
            TransactWriteItem::builder().delete(release).build(),
            audit.transact_put(stores)?,
        ];
        match run(stores, items).await {
            Ok(()) => return Ok(removed),
            // Someone joined meanwhile: sweep again.
            Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => continue,
            Err(other) => return Err(unexpected("group deletion", other)),
        }
    }
    Err(GroupError::Contended)
}

/// Takes a deleted user out of every group they were in.
pub async fn leave_all(stores: &Stores, user_id: u64, group_ids: &[u64]) -> Result<(), StoreError> {
    for group_id in group_ids {
        match remove_member(stores, *group_id, user_id, None).await {
            Ok(_) | Err(GroupError::NotFound | GroupError::Contended) => {}
            Err(GroupError::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError::Internal(anyhow::anyhow!("leaving group {group_id}: {e}"))),
        }
    }
    Ok(())
}

/// Reads `group_ids` off a user or invitation item.
pub fn ids_of(item: &Item) -> Vec<u64> {
    crate::db::item::number_set(item, "group_ids")
}
