//! Group managers: a member whose membership item carries `manager = true`.
//!
//! The flag lives on the membership, so removing the member (or deleting the
//! user, or the group) ends it with the membership. Setting or clearing it
//! bumps the user's version in the same transaction, so the cached user (whose
//! groups say which ones they manage) takes the change at once; writes made
//! as a manager re-check the flag when they commit (see `audit::actor`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::members::join_actions;
use super::store::{GroupError, GroupRef, group_pk, member_sk, run, tx_failed, unexpected};
use crate::audit::AuditEvent;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, b, get_n, key, n};
use crate::db::keys::user_pk;
use crate::db::{StoreError, Stores};

/// A member of a group and whether they manage it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub user_id: u64,
    pub manager: bool,
}

fn is_manager(item: &Item) -> bool {
    item.get("manager").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
}

/// The members of a group with their manager flags (one query; groups are small).
pub async fn memberships(stores: &Stores, id: u64) -> Result<Vec<Membership>, StoreError> {
    let members = Some(("sk", "MEMBER#"));
    let items = dynamo::query_all(&stores.dynamo, &stores.tables.identity, None, "pk", &group_pk(id), members).await?;
    items.iter().map(|item| Ok(Membership { user_id: get_n(item, "user_id")?, manager: is_manager(item) })).collect()
}

/// The groups `ids` of user `user_id` with their names and whether the user
/// manages each, in one batch read of the group items and the user's
/// membership items; groups that no longer exist are left out.
pub async fn refs_of_member(stores: &Stores, user_id: u64, ids: &[u64]) -> Result<Vec<GroupRef>, StoreError> {
    let mut keys: Vec<Item> = ids.iter().map(|id| key(group_pk(*id), "GROUP")).collect();
    keys.extend(ids.iter().map(|id| key(group_pk(*id), member_sk(user_id))));
    let items = dynamo::batch_get(&stores.dynamo, &stores.tables.identity, keys).await?;
    let managed: HashMap<String, bool> = items
        .iter()
        .filter(|item| item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("MEMBER#")))
        .filter_map(|item| Some((item.get("pk")?.as_s().ok()?.clone(), is_manager(item))))
        .collect();
    let mut found = items
        .iter()
        .filter(|item| item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "GROUP"))
        .map(|item| {
            let id: u64 = get_n(item, "id")?;
            let manager = managed.get(&group_pk(id)).copied().unwrap_or(false);
            Ok(GroupRef { id, name: crate::db::item::get_s(item, "name")?, manager })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    found.sort_by_key(|g| g.id);
    Ok(found)
}

/// Bumps the user's version (so the cache takes the change); the user must exist.
fn user_bump(stores: &Stores, user_id: u64) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(user_id), "USER")))
            .update_expression("ADD version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn flag_update(stores: &Stores, group_id: u64, user_id: u64, on: bool) -> Result<TransactWriteItem, StoreError> {
    let builder = Update::builder()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(group_pk(group_id), member_sk(user_id))))
        .expression_attribute_names("#m", "manager");
    let update = if on {
        builder
            .update_expression("SET #m = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", b(true))
    } else {
        builder
            .update_expression("REMOVE #m")
            .condition_expression("attribute_exists(pk) AND #m = :t")
            .expression_attribute_values(":t", b(true))
    };
    Ok(TransactWriteItem::builder().update(built(update.build())?).build())
}

/// How [`make_manager`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// A member already; now (or still) a manager.
    Manager,
    /// Not a member: made a member and a manager in one transaction.
    MemberAndManager,
}

/// Makes `user_id` a manager of `group_id`; a user who is not a member
/// becomes one in the same transaction.
pub async fn make_manager(
    stores: &Stores,
    group_id: u64,
    user_id: u64,
    audit: &AuditEvent,
) -> Result<Made, GroupError> {
    // Two rounds: a member who leaves (or joins) between the attempts is met by the other form.
    for _ in 0..2 {
        let items = vec![
            flag_update(stores, group_id, user_id, true)?,
            user_bump(stores, user_id)?,
            audit.transact_put(stores)?,
        ];
        match run(stores, items).await {
            Ok(()) => return Ok(Made::Manager),
            Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 1) => return Err(GroupError::UserNotFound),
            Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => {}
            Err(other) => return Err(unexpected("making a manager", other)),
        }
        // Not a member: join with the flag set.
        let mut actions = join_actions(stores, group_id, user_id, true)?;
        if let Some(put) = actions[0].put() {
            let mut item = put.item().clone();
            item.insert("manager".into(), b(true));
            let flagged = built(
                Put::builder()
                    .table_name(put.table_name())
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            actions[0] = TransactWriteItem::builder().put(flagged).build();
        }
        actions.push(audit.transact_put(stores)?);
        match run(stores, actions).await {
            Ok(()) => return Ok(Made::MemberAndManager),
            Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 1) => return Err(GroupError::NotFound),
            Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 2) => return Err(GroupError::UserNotFound),
            Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => {}
            Err(other) => return Err(unexpected("making a member a manager", other)),
        }
    }
    Err(GroupError::Contended)
}

/// Ends `user_id`'s management of `group_id` (they stay a member).
/// `Ok(false)`: they were no manager of it.
pub async fn unmake_manager(
    stores: &Stores,
    group_id: u64,
    user_id: u64,
    audit: &AuditEvent,
) -> Result<bool, GroupError> {
    let items =
        vec![flag_update(stores, group_id, user_id, false)?, user_bump(stores, user_id)?, audit.transact_put(stores)?];
    match run(stores, items).await {
        Ok(()) => Ok(true),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => Ok(false),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 1) => Err(GroupError::UserNotFound),
        Err(other) => Err(unexpected("ending a manager", other)),
    }
}
