//! The actor's own right to act, checked by the write itself.
//!
//! A request is authorized when it starts, but its write lands later: a
//! demotion, deactivation or deletion of the actor committed in between must
//! still stop it. So every audited transaction carries a condition on the
//! actor's user record — it exists, is active and still holds the least role
//! the action needs — and DynamoDB evaluates it atomically with the write. The
//! audit event names the actor, so it carries the requirement too
//! ([`Actor::must_hold`], stored with the event); [`transact`] finds it in the
//! transaction's audit put and turns it into the condition. Callers
//! without a user record (the admin secret, disabled auth) are exempt.
//!
//! An actor who acts as the manager of a group (`AuditEvent::managing`) holds
//! that right through their membership item's `manager` flag, so the
//! transaction also requires that item to exist and carry the flag: an admin's
//! removal of the flag, of the membership or of the user stops every write of
//! theirs that commits after it. An action about one member (a decision on
//! their task) also requires that member's membership, so a member removed
//! meanwhile is no longer decided for by the group's manager.

use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{Failure, built, classify};
use crate::db::item::{Item, b, key, s};
use crate::db::keys::user_pk;
use crate::types::Role;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem, Update};

/// Who acts, for audit events and the write's condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub id: Option<u64>,
    /// The least role the actor must still hold when the write commits
    /// (`None`: no condition, for pseudo actors and unauthenticated callers).
    pub must_hold: Option<Role>,
}

impl From<(String, Option<u64>)> for Actor {
    fn from((name, id): (String, Option<u64>)) -> Self {
        Self { name, id, must_hold: None }
    }
}

/// Placeholder names unlikely to clash with those of the write it joins.
const ACTIVE: &str = ":krv_actor_active";
const ROLE_NAME: &str = "#krv_actor_role";

fn role_value(i: usize) -> String {
    format!(":krv_actor_r{i}")
}

/// A condition expression with its placeholders.
struct Condition {
    expression: String,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

/// The key of a membership item, as `groups::store` lays it out (named here,
/// not imported: the groups store records its events through this module).
fn membership_key(group_id: u64, user_id: u64) -> Item {
    key(format!("GROUP#{group_id}"), format!("MEMBER#{user_id:020}"))
}

const MANAGER_NAME: &str = "#krv_actor_manager";
const MANAGER_TRUE: &str = ":krv_actor_manager_true";

/// The condition that a membership item carries the manager flag.
fn manager_condition() -> Condition {
    Condition {
        expression: format!("attribute_exists(pk) AND {MANAGER_NAME} = {MANAGER_TRUE}"),
        names: vec![(MANAGER_NAME.to_owned(), "manager".to_owned())],
        values: vec![(MANAGER_TRUE.to_owned(), b(true))],
    }
}

/// The condition that a user record holds `must_hold`, active.
fn condition(must_hold: Role) -> Condition {
    let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| r.at_least(must_hold) && *r != Role::Anony).collect();
    let placeholders: Vec<String> = (0..roles.len()).map(role_value).collect();
    let expression =
        format!("attribute_exists(pk) AND is_active = {ACTIVE} AND {ROLE_NAME} IN ({})", placeholders.join(", "));
    let mut values = vec![(ACTIVE.to_owned(), b(true))];
    values.extend(placeholders.into_iter().zip(roles).map(|(p, r)| (p, s(r.as_str()))));
    Condition { expression, names: vec![(ROLE_NAME.to_owned(), "role".to_owned())], values }
}

/// The requirement of the audit event a transaction records, read back from
/// its put (see `AuditEvent::transact_put`).
fn requirement_in(items: &[TransactWriteItem], audit_table: &str) -> Option<Requirement> {
    items.iter().filter_map(TransactWriteItem::put).filter(|p| p.table_name() == audit_table).find_map(|p| {
        let event = p.item();
        let id: u64 = event.get("actor_id")?.as_n().ok()?.parse().ok()?;
        let role: Role = event.get("actor_must_hold")?.as_s().ok()?.parse().ok()?;
        let manages = event.get("actor_manages").and_then(|g| g.as_n().ok()?.parse::<u64>().ok());
        let member = event.get("actor_manages_member").and_then(|m| m.as_n().ok()?.parse::<u64>().ok());
        Some(Requirement {
            actor: key(user_pk(id), "USER"),
            must_hold: role,
            membership: manages.map(|g| membership_key(g, id)),
            member: manages.zip(member).map(|(g, m)| (g, membership_key(g, m))),
        })
    })
}

/// What a transaction requires of its actor: their record's role, and when
/// they act as a group's manager, their membership's flag and the membership
/// of the member the action is about.
struct Requirement {
    actor: Item,
    must_hold: Role,
    membership: Option<Item>,
    member: Option<(u64, Item)>,
}

/// The condition that the membership item of `group_id` exists (its key is
/// restated, since a condition check needs a name and a value to send).
fn member_condition(group_id: u64) -> Condition {
    let (name, value) = ("#krv_member_pk", ":krv_member_pk");
    Condition {
        expression: format!("attribute_exists({name}) AND {name} = {value}"),
        names: vec![(name.to_owned(), "pk".to_owned())],
        values: vec![(value.to_owned(), s(format!("GROUP#{group_id}")))],
    }
}

/// The key of a transaction action, when it names an item of the identity table.
fn action_key(item: &TransactWriteItem, table: &str) -> Option<Item> {
    let on_table = |t: &str| t == table;
    if let Some(u) = item.update()
        && on_table(u.table_name())
    {
        return Some(u.key().clone());
    }
    if let Some(d) = item.delete()
        && on_table(d.table_name())
    {
        return Some(d.key().clone());
    }
    if let Some(p) = item.put()
        && on_table(p.table_name())
    {
        let item = p.item();
        return Some(["pk", "sk"].iter().filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone()))).collect());
    }
    item.condition_check().filter(|c| on_table(c.table_name())).map(|c| c.key().clone())
}

/// Adds the actor's condition to an update of the actor's own record (a
/// transaction may not act on one item twice).
fn merge_into(update: &Update, condition: Condition) -> Result<Update, StoreError> {
    let Condition { expression, names, values } = condition;
    let combined = match update.condition_expression() {
        Some(existing) => format!("({existing}) AND {expression}"),
        None => expression,
    };
    let mut all_names = update.expression_attribute_names().cloned().unwrap_or_default();
    all_names.extend(names);
    let mut all_values = update.expression_attribute_values().cloned().unwrap_or_default();
    all_values.extend(values);
    built(
        Update::builder()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .condition_expression(combined)
            .set_expression_attribute_names(Some(all_names))
            .set_expression_attribute_values(Some(all_values))
            .set_return_values_on_condition_check_failure(update.return_values_on_condition_check_failure().cloned())
            .build(),
    )
}

/// The same for a condition check of the actor's own record (an unlink that
/// checks another way to log in remains): DynamoDB allows one action per item
/// in a transaction, so the actor's condition must join it.
fn merge_into_check(check: &ConditionCheck, condition: Condition) -> Result<ConditionCheck, StoreError> {
    let Condition { expression, names, values } = condition;
    let mut all_names = check.expression_attribute_names().cloned().unwrap_or_default();
    all_names.extend(names);
    let mut all_values = check.expression_attribute_values().cloned().unwrap_or_default();
    all_values.extend(values);
    built(
        ConditionCheck::builder()
            .table_name(check.table_name())
            .set_key(Some(check.key().clone()))
            .condition_expression(format!("({}) AND {expression}", check.condition_expression()))
            .set_expression_attribute_names(Some(all_names))
            .set_expression_attribute_values(Some(all_values))
            .build(),
    )
}

/// The same for a delete of the item (a manager removing their own membership).
fn merge_into_delete(delete: &Delete, condition: Condition) -> Result<Delete, StoreError> {
    let Condition { expression, names, values } = condition;
    let combined = match delete.condition_expression() {
        Some(existing) => format!("({existing}) AND {expression}"),
        None => expression,
    };
    let mut all_names = delete.expression_attribute_names().cloned().unwrap_or_default();
    all_names.extend(names);
    let mut all_values = delete.expression_attribute_values().cloned().unwrap_or_default();
    all_values.extend(values);
    built(
        Delete::builder()
            .table_name(delete.table_name())
            .set_key(Some(delete.key().clone()))
            .condition_expression(combined)
            .set_expression_attribute_names(Some(all_names))
            .set_expression_attribute_values(Some(all_values))
            .build(),
    )
}

fn check_item(table: &str, item_key: Item, condition: Condition) -> Result<TransactWriteItem, StoreError> {
    let Condition { expression, names, values } = condition;
    let check = built(
        ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(item_key))
            .condition_expression(expression)
            .set_expression_attribute_names(Some(names.into_iter().collect()))
            .set_expression_attribute_values(Some(values.into_iter().collect()))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// A transaction action that fails unless user `user_id` exists, is active
/// and holds at least `must_hold` (an invitation's creator, at its use).
pub fn check(stores: &Stores, user_id: u64, must_hold: Role) -> Result<TransactWriteItem, StoreError> {
    check_item(&stores.tables.identity, key(user_pk(user_id), "USER"), condition(must_hold))
}

/// A transaction action that fails unless user `user_id` is a manager of
/// `group_id` (an invitation made by a manager, at its use).
pub fn manager_check(stores: &Stores, group_id: u64, user_id: u64) -> Result<TransactWriteItem, StoreError> {
    check_item(&stores.tables.identity, membership_key(group_id, user_id), manager_condition())
}

/// Joins `condition` to the action of `items` on `target` (to a delete only
/// when `into_delete`), or appends a condition check of it; returns the index
/// of an appended check.
fn require_of(
    items: &mut Vec<TransactWriteItem>,
    table: &str,
    target: Item,
    condition: Condition,
    into_delete: bool,
) -> Result<Option<usize>, StoreError> {
    match items.iter().position(|i| action_key(i, table).is_some_and(|k| k == target)) {
        Some(i) => {
            if let Some(update) = items[i].update() {
                let merged = merge_into(update, condition)?;
                items[i] = TransactWriteItem::builder().update(merged).build();
            } else if let Some(check) = items[i].condition_check() {
                let merged = merge_into_check(check, condition)?;
                items[i] = TransactWriteItem::builder().condition_check(merged).build();
            } else if let Some(delete) = items[i].delete().filter(|_| into_delete) {
                let merged = merge_into_delete(delete, condition)?;
                items[i] = TransactWriteItem::builder().delete(merged).build();
            }
            Ok(None)
        }
        None => {
            items.push(check_item(table, target, condition)?);
            Ok(Some(items.len() - 1))
        }
    }
}

/// Sends a transaction, with the condition that the actor of the audit event
/// it records (if any) may still act. The check is the last action; if it fails,
/// the answer is [`StoreError::ActorRevoked`] whatever else failed. When the
/// transaction already updates or condition-checks the actor's own record, the
/// condition joins that action instead (a failure then reads as that action's
/// own). A put or delete of the actor's own record carries no extra condition: the callers
/// that write one (deleting a user, which never deletes its actor) say why.
pub async fn transact(stores: &Stores, mut items: Vec<TransactWriteItem>) -> Result<(), Failure> {
    let table = &stores.tables.identity;
    let mut check_indices = Vec::new();
    if let Some(required) = requirement_in(&items, &stores.tables.audit) {
        let actor = require_of(&mut items, table, required.actor, condition(required.must_hold), false);
        check_indices.extend(actor.map_err(Failure::Store)?);
        if let Some(membership) = required.membership {
            let appended =
                require_of(&mut items, table, membership, manager_condition(), true).map_err(Failure::Store)?;
            check_indices.extend(appended);
        }
        if let Some((group_id, member)) = required.member {
            let appended =
                require_of(&mut items, table, member, member_condition(group_id), false).map_err(Failure::Store)?;
            check_indices.extend(appended);
        }
    }
    match stores.dynamo.transact_write_items().set_transact_items(Some(items)).send().await {
        Ok(_) => Ok(()),
        Err(err) => match classify(err) {
            Failure::TransactionCanceled(reasons)
                if check_indices.iter().any(|i| reasons.get(*i).is_some_and(|r| r == "ConditionalCheckFailed")) =>
            {
                Err(Failure::Store(StoreError::ActorRevoked))
            }
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_keys_match_the_groups_store() {
        let expected = key(crate::groups::group_pk(7), crate::groups::member_sk(42));
        assert_eq!(membership_key(7, 42), expected);
    }
}
