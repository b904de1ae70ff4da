//! Groups and memberships in the `identity` table.
//!
//! Key layout: a group is `GROUP#<id>`/`GROUP` (listed through `gsi1pk =
//! GROUPS`), with a `member_count` kept exact by the membership transactions;
//! its case-folded name is reserved by `GROUPNAME#<name>`/`GROUPNAME`; each
//! membership is an item `GROUP#<gid>`/`MEMBER#<uid>` (the group's member list)
//! plus the group id in the user item's `group_ids` set (so a user's groups come
//! with the user, and the user cache that authorization reads carries them).
//! Every membership change bumps the user's version, so the cache takes it.
//! A membership item's `manager` flag makes the member a manager of the group
//! (see `manage.rs`).

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, opt_s, s};
use crate::types::Timestamp;

/// A group as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
    pub member_count: u64,
}

/// A group named on a user (`/me`, the users list, the user cache).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupRef {
    pub id: u64,
    pub name: String,
    /// On a user's own groups (`/me`, the cached user): whether they manage
    /// this group (see `groups::manage`). Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manager: bool,
}

impl Group {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            id: get_n(item, "id")?,
            name: get_s(item, "name")?,
            description: opt_s(item, "description").unwrap_or_default(),
            created_at: Timestamp::from_millis(get_n(item, "created_at_ms")?),
            member_count: opt_n(item, "member_count").unwrap_or(0),
        })
    }
}

pub fn group_pk(id: u64) -> String {
    format!("GROUP#{id}")
}

pub(super) fn name_pk(name: &str) -> String {
    format!("GROUPNAME#{}", crate::users::name_key(name))
}

pub fn member_sk(user_id: u64) -> String {
    format!("MEMBER#{user_id:020}")
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("group not found")]
    NotFound,
    #[error("user not found")]
    UserNotFound,
    #[error("name taken")]
    NameTaken,
    #[error("the group changed meanwhile")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(super) fn tx_failed(reasons: &[String], index: usize) -> bool {
    reasons.get(index).is_some_and(|r| r == "ConditionalCheckFailed")
}

pub(super) async fn run(stores: &Stores, items: Vec<TransactWriteItem>) -> Result<(), Failure> {
    actor::transact(stores, items).await
}

pub(super) fn unexpected(what: &str, failure: Failure) -> GroupError {
    match failure {
        Failure::Store(e) => e.into(),
        other => StoreError::Internal(anyhow::anyhow!("{what}: {other:?}")).into(),
    }
}

/// Creates a group with a unique name.
pub async fn create(
    stores: &Stores,
    name: &str,
    description: &str,
    audit: impl FnOnce(&Group) -> AuditEvent,
) -> Result<Group, GroupError> {
    let table = &stores.tables.identity;
    let id = dynamo::next_id(&stores.dynamo, table, "group_id").await?;
    let group = Group {
        id,
        name: name.to_owned(),
        description: description.to_owned(),
        created_at: Timestamp::now(),
        member_count: 0,
    };
    let mut item = key(group_pk(id), "GROUP");
    item.extend([
        ("gsi1pk".to_owned(), s("GROUPS")),
        ("gsi1sk".to_owned(), s(format!("{id:020}"))),
        ("id".to_owned(), n(id)),
        ("name".to_owned(), s(name)),
        ("description".to_owned(), s(description)),
        ("created_at_ms".to_owned(), n(group.created_at.millis())),
        ("member_count".to_owned(), n(0)),
    ]);
    let mut reservation = key(name_pk(name), "GROUPNAME");
    reservation.insert("group_id".into(), n(id));
    let items =
        vec![dynamo::put_new(table, item)?, dynamo::put_new(table, reservation)?, audit(&group).transact_put(stores)?];
    match run(stores, items).await {
        Ok(()) => Ok(group),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 1) => Err(GroupError::NameTaken),
        Err(other) => Err(unexpected("group creation", other)),
    }
}

/// The group with `id`, if any.
pub async fn get(stores: &Stores, id: u64) -> Result<Option<Group>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, group_pk(id), "GROUP").await?;
    item.as_ref().map(Group::from_item).transpose()
}

/// The group named `name` (compared as names are kept unique), if any: the
/// groups single sign-on rules name (`oidc::provision`).
pub async fn find_by_name(stores: &Stores, name: &str) -> Result<Option<Group>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, name_pk(name), "GROUPNAME").await?;
    match item.as_ref().map(|i| get_n::<u64>(i, "group_id")).transpose()? {
        Some(id) => get(stores, id).await,
        None => Ok(None),
    }
}

/// One page of groups (oldest first) and the id to continue after.
pub async fn list(stores: &Stores, limit: usize, after: Option<u64>) -> Result<(Vec<Group>, Option<u64>), StoreError> {
    let start = after.map(|id| dynamo::index_key(group_pk(id), "GROUP", "GROUPS", format!("{id:020}")));
    let (items, more) =
        dynamo::index_page(&stores.dynamo, &stores.tables.identity, "GROUPS", true, limit, start).await?;
    let groups = items.iter().map(Group::from_item).collect::<Result<Vec<_>, _>>()?;
    let next = if more && groups.len() == limit { groups.last().map(|g| g.id) } else { None };
    Ok((groups, next))
}

/// Names for group ids, in one batch read; ids of groups that no longer exist are left out.
pub async fn refs(stores: &Stores, ids: &[u64]) -> Result<Vec<GroupRef>, StoreError> {
    let keys: Vec<Item> = ids.iter().map(|id| key(group_pk(*id), "GROUP")).collect();
    let items = dynamo::batch_get(&stores.dynamo, &stores.tables.identity, keys).await?;
    let mut found = items
        .iter()
        .map(|item| Ok(GroupRef { id: get_n(item, "id")?, name: get_s(item, "name")?, manager: false }))
        .collect::<Result<Vec<_>, StoreError>>()?;
    found.sort_by_key(|g| g.id);
    Ok(found)
}

/// Renames and/or re-describes a group; a new name must be free.
pub async fn update(
    stores: &Stores,
    id: u64,
    name: Option<&str>,
    description: Option<&str>,
    audit: &AuditEvent,
) -> Result<Group, GroupError> {
    let table = &stores.tables.identity;
    let before = get(stores, id).await?.ok_or(GroupError::NotFound)?;
    let new_name = name.unwrap_or(&before.name);
    let new_description = description.unwrap_or(&before.description);
    let renamed = crate::users::name_key(new_name) != crate::users::name_key(&before.name);
    let update = built(
        Update::builder()
            .table_name(table)
            .set_key(Some(key(group_pk(id), "GROUP")))
            .update_expression("SET #n = :name, description = :d")
            .condition_expression("#n = :old")
            .expression_attribute_names("#n", "name")
            .expression_attribute_values(":name", s(new_name))
            .expression_attribute_values(":d", s(new_description))
            .expression_attribute_values(":old", s(&before.name))
            .build(),
    )?;
    let mut items = vec![TransactWriteItem::builder().update(update).build()];
    if renamed {
        let mut reservation = key(name_pk(new_name), "GROUPNAME");
        reservation.insert("group_id".into(), n(id));
        let release =
            built(Delete::builder().table_name(table).set_key(Some(key(name_pk(&before.name), "GROUPNAME"))).build())?;
        items.push(dynamo::put_new(table, reservation)?);
        items.push(TransactWriteItem::builder().delete(release).build());
    }
    items.push(audit.transact_put(stores)?);
    match run(stores, items).await {
        Ok(()) => Ok(Group { name: new_name.to_owned(), description: new_description.to_owned(), ..before }),
        Err(Failure::TransactionCanceled(r)) if renamed && tx_failed(&r, 1) => Err(GroupError::NameTaken),
        Err(Failure::TransactionCanceled(r)) if tx_failed(&r, 0) => Err(GroupError::Contended),
        Err(other) => Err(unexpected("group update", other)),
    }
}

/// A condition that a group exists, for transactions that rely on it.
pub fn exists_check(stores: &Stores, group_id: u64) -> Result<TransactWriteItem, StoreError> {
    let check = built(
        ConditionCheck::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(group_pk(group_id), "GROUP")))
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}
