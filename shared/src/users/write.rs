//! The transactional writes of a user record: a change of profile, role or
//! activity, a new password, a deletion. Each is conditioned on the version
//! the caller read, keeps the admin and role counters exact, and carries its
//! audit event (and so the actor's check, see `audit::actor`). Reading, retrying
//! and keeping the user cache in step is `identity`'s job, which calls these.

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::store::{UserRecord, admin_count_down, counter_add, role_counter, user_pk, username_pk};
use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::dynamo::{Failure, built};
use crate::db::item::{b, key, n, s};
use crate::db::{StoreError, Stores};
use crate::types::Role;

/// A change to a user's profile, role or activity.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    /// `MFA_REQUIRED_ROLE`, when set: a promotion from below this role to it
    /// or above moves the credential generation on, so every session of the
    /// user ends (one opened under the lighter rule, perhaps with the
    /// password alone, does not carry into the stricter one).
    pub promotion_ends_sessions_at: Option<Role>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("user not found")]
    NotFound,
    #[error("the last active admin cannot be demoted, deactivated or deleted")]
    LastAdmin,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an update or deletion is about to do, shown to `prepare` before the
/// write, so callers can check their guards and describe it for the audit log.
pub struct Planned<'a> {
    pub before: &'a UserRecord,
    /// `None` for a deletion.
    pub after: Option<&'a UserRecord>,
}

fn is_active_admin(role: Role, active: bool) -> bool {
    role == Role::Admin && active
}

impl UserChange {
    /// `before` with the change applied (its version and, for a deactivation,
    /// its credential generation moved on); `None` when nothing changes.
    pub fn apply(&self, before: &UserRecord) -> Option<UserRecord> {
        let mut after = before.clone();
        if let Some(name) = &self.display_name {
            after.display_name.clone_from(name);
        }
        if let Some(role) = self.role {
            after.role = role;
        }
        if let Some(active) = self.is_active {
            after.is_active = active;
        }
        if after.display_name == before.display_name && after.role == before.role && after.is_active == before.is_active
        {
            return None;
        }
        after.version = before.version + 1;
        let promoted_into = |required: Role| !before.role.at_least(required) && after.role.at_least(required);
        if (before.is_active && !after.is_active) || self.promotion_ends_sessions_at.is_some_and(promoted_into) {
            // Sessions end with a deactivation, or a promotion into the roles
            // that must have a second factor, including any born in a race.
            after.epoch = before.epoch + 1;
        }
        Some(after)
    }
}

/// An update of `before`'s record on the condition that its version has not
/// moved, with the values every write of a new state sets: `:next` (the new
/// version) and `:epoch` (the credential generation).
fn versioned(stores: &Stores, before: &UserRecord, after: &UserRecord) -> UpdateBuilder {
    Update::builder()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(before.id), "USER")))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", n(before.version))
        .expression_attribute_values(":next", n(after.version))
        .expression_attribute_values(":epoch", n(after.epoch))
}

/// Writes `after` over `before` (profile, role, activity, generation).
pub(crate) async fn write_update(
    stores: &Stores,
    before: &UserRecord,
    after: &UserRecord,
    event: &AuditEvent,
) -> Result<(), UpdateError> {
    let update = built(
        versioned(stores, before, after)
            .update_expression(
                "SET display_name = :name, #role = :role, is_active = :active, version = :next, cred_epoch = :epoch",
            )
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":name", s(&after.display_name))
            .expression_attribute_values(":role", s(after.role.as_str()))
            .expression_attribute_values(":active", b(after.is_active))
            .build(),
    )?;
    let mut items = vec![TransactWriteItem::builder().update(update).build()];
    let was = is_active_admin(before.role, before.is_active);
    let is = is_active_admin(after.role, after.is_active);
    let admin_index = (was != is).then_some(items.len());
    if was && !is {
        items.push(admin_count_down(stores)?);
    } else if !was && is {
        items.push(counter_add(stores, "active_admins", 1)?);
    }
    if before.role != after.role {
        items.push(counter_add(stores, &role_counter(before.role), -1)?);
        items.push(counter_add(stores, &role_counter(after.role), 1)?);
    }
    items.push(event.transact_put(stores)?);
    transact(stores, items, admin_index).await
}

/// Writes `after`'s password hash and generation over `before`.
pub(crate) async fn write_password(
    stores: &Stores,
    before: &UserRecord,
    after: &UserRecord,
    event: &AuditEvent,
) -> Result<(), UpdateError> {
    let update = built(
        versioned(stores, before, after)
            .update_expression("SET password_hash = :h, version = :next, cred_epoch = :epoch")
            .expression_attribute_values(":h", s(&after.password_hash))
            .build(),
    )?;
    let items = vec![TransactWriteItem::builder().update(update).build(), event.transact_put(stores)?];
    transact(stores, items, None).await
}

/// Deletes the user and its username reservation (so the name can be taken
/// again; the id never is), keeping the counters exact.
pub(crate) async fn write_delete(stores: &Stores, before: &UserRecord, event: &AuditEvent) -> Result<(), UpdateError> {
    let delete_user = built(
        Delete::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(before.id), "USER")))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(before.version))
            .build(),
    )?;
    let delete_name = built(
        Delete::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(username_pk(&before.username.to_ascii_lowercase()), "USERNAME")))
            .build(),
    )?;
    let mut items = vec![
        TransactWriteItem::builder().delete(delete_user).build(),
        TransactWriteItem::builder().delete(delete_name).build(),
    ];
    let admin_index = is_active_admin(before.role, before.is_active).then_some(items.len());
    if admin_index.is_some() {
        items.push(admin_count_down(stores)?);
    }
    items.push(counter_add(stores, &role_counter(before.role), -1)?);
    items.push(event.transact_put(stores)?);
    transact(stores, items, admin_index).await
}

/// Runs a transaction whose first action is conditioned on the user's version
/// and whose action at `admin_index` (if any) is the admin-count guard, with
/// the check that its audit event's actor may still act.
async fn transact(
    stores: &Stores,
    items: Vec<TransactWriteItem>,
    admin_index: Option<usize>,
) -> Result<(), UpdateError> {
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(reasons)) => {
            let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
            if admin_index.is_some_and(failed) {
                Err(UpdateError::LastAdmin)
            } else if failed(0) || reasons.iter().any(|r| r == "TransactionConflict") {
                Err(UpdateError::Contended)
            } else {
                Err(StoreError::Internal(anyhow::anyhow!("user write cancelled: {reasons:?}")).into())
            }
        }
        Err(Failure::ConditionFailed) => Err(UpdateError::Contended),
        Err(Failure::Store(e)) => Err(e.into()),
    }
}
