//! Changing a VPS's assignments (layout: see store.rs). Each change is one
//! transaction per chunk: the assignment items and, for a VPS that has one,
//! its summary, so the two never disagree.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::dynamo::{Failure, built};
use crate::db::item::{key, n, s};
use crate::db::{Store, StoreError, Stores};
use crate::tasks::{ASSIGNMENT_SUMMARY_SK, TaskRecord, TaskType, task_pk};
use crate::types::Timestamp;
use crate::vps::{Assignee, VpsView, read};

/// How many assignments one transaction writes, leaving room in DynamoDB's
/// 100 actions for the summary, the audit event and the actor's check.
const ASSIGN_CHUNK: usize = 90;

/// How the summary changes: the ids are added to its sets, or taken out.
#[derive(Clone, Copy)]
enum SetChange {
    Add,
    Remove,
}

/// The summary's change for `who`, as a transaction action that fails if the
/// VPS has no summary (so none is ever started half full); `None` for nobody.
fn summary_change(
    stores: &Stores,
    vps_id: u64,
    change: SetChange,
    who: &[Assignee],
) -> Result<Option<TransactWriteItem>, StoreError> {
    let ids = |user: bool| -> Vec<String> {
        who.iter()
            .filter_map(|a| match (a, user) {
                (Assignee::User(id), true) | (Assignee::Group(id), false) => Some(id.to_string()),
                _ => None,
            })
            .collect()
    };
    let (users, groups) = (ids(true), ids(false));
    let mut parts = Vec::new();
    let mut update = Update::builder()
        .table_name(&stores.tables.tasks)
        .set_key(Some(key(task_pk(vps_id), ASSIGNMENT_SUMMARY_SK)))
        .condition_expression("attribute_exists(pk)");
    for (attr, placeholder, ids) in [("user_ids", ":u", users), ("group_ids", ":g", groups)] {
        if !ids.is_empty() {
            parts.push(format!("{attr} {placeholder}"));
            update = update.expression_attribute_values(placeholder, AttributeValue::Ns(ids));
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    let verb = match change {
        SetChange::Add => "ADD",
        SetChange::Remove => "DELETE",
    };
    let update = built(update.update_expression(format!("{verb} {}", parts.join(", "))).build())?;
    Ok(Some(TransactWriteItem::builder().update(update).build()))
}

/// Sends one assignment transaction of VPS `vps_id`, inside the fence of its
/// grants' read model (see `access.rs`). Two changes of one VPS's summary at
/// once make DynamoDB cancel one with `TransactionConflict`; the summary's
/// changes are set additions and removals, so running it again is safe: it is
/// retried a few times, then answered as a store error worth a client's retry (503).
async fn send(stores: &Stores, vps_id: u64, items: Vec<TransactWriteItem>) -> Result<(), Failure> {
    crate::vps::access::model(&stores.redis, vps_id).around(&stores.redis, send_retried(stores, items)).await
}

async fn send_retried(stores: &Stores, items: Vec<TransactWriteItem>) -> Result<(), Failure> {
    const ATTEMPTS: u64 = 4;
    for attempt in 1..=ATTEMPTS {
        match actor::transact(stores, items.clone()).await {
            Err(Failure::TransactionCanceled(reasons)) if reasons.iter().any(|r| r == "TransactionConflict") => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            done => return done,
        }
    }
    let why = anyhow::anyhow!("concurrent changes of the VPS's assignments");
    Err(Failure::Store(StoreError::unavailable(Store::DynamoDb, why)))
}

/// Assigns the VPS to every assignee (already assigned ones are left as they
/// were). Each chunk of [`ASSIGN_CHUNK`] is one transaction with its audit
/// event (`audit` describes the chunk), so an actor who lost the right to
/// assign meanwhile writes nothing more. Returns who was added.
pub async fn assign(
    stores: &Stores,
    vps: &VpsView,
    assignees: &[Assignee],
    audit: impl Fn(&[Assignee]) -> AuditEvent,
) -> Result<Vec<Assignee>, StoreError> {
    let vps_id = vps.task.id;
    let now = Timestamp::now();
    let mut added = Vec::new();
    let mut puts = Vec::new();
    for assignee in assignees {
        if vps.assignments.iter().any(|a| a.assignee == *assignee) || added.contains(assignee) {
            continue;
        }
        let (kind, id) = match assignee {
            Assignee::User(id) => ("user", *id),
            Assignee::Group(id) => ("group", *id),
        };
        let mut item = key(task_pk(vps_id), assignee.sort_key());
        item.extend([
            ("gsi1pk".to_owned(), s(assignee.index_partition())),
            ("gsi1sk".to_owned(), s(format!("{vps_id:020}"))),
            ("vps_id".to_owned(), n(vps_id)),
            ("assignee_kind".to_owned(), s(kind)),
            ("assignee_id".to_owned(), n(id)),
            ("assigned_at_ms".to_owned(), n(now.millis())),
        ]);
        let put = built(Put::builder().table_name(&stores.tables.tasks).set_item(Some(item)).build())?;
        puts.push(TransactWriteItem::builder().put(put).build());
        added.push(*assignee);
    }
    for (chunk, who) in puts.chunks(ASSIGN_CHUNK).zip(added.chunks(ASSIGN_CHUNK)) {
        let mut items = chunk.to_vec();
        if vps.summarized {
            items.extend(summary_change(stores, vps_id, SetChange::Add, who)?);
        }
        items.push(audit(who).transact_put(stores)?);
        send(stores, vps_id, items).await.map_err(Failure::into_store_error)?;
    }
    Ok(added)
}

fn delete_action(stores: &Stores, vps_id: u64, who: Assignee) -> Result<TransactWriteItem, StoreError> {
    let delete = built(
        Delete::builder().table_name(&stores.tables.tasks).set_key(Some(key(task_pk(vps_id), who.sort_key()))).build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Removes one assignment, with its audit event, as long as the actor may
/// still act.
pub async fn unassign_one(stores: &Stores, vps: &VpsView, who: Assignee, audit: &AuditEvent) -> Result<(), StoreError> {
    let mut items = vec![delete_action(stores, vps.task.id, who)?];
    if vps.summarized {
        items.extend(summary_change(stores, vps.task.id, SetChange::Remove, &[who])?);
    }
    items.push(audit.transact_put(stores)?);
    send(stores, vps.task.id, items).await.map_err(Failure::into_store_error)
}

/// Removes assignments of one VPS, in transactions of up to 99 with the
/// summary's change; for a VPS without a summary (its condition fails), the
/// assignments alone.
pub async fn unassign(stores: &Stores, vps_id: u64, assignees: &[Assignee]) -> Result<(), StoreError> {
    for chunk in assignees.chunks(99) {
        let deletes = chunk.iter().map(|who| delete_action(stores, vps_id, *who)).collect::<Result<Vec<_>, _>>()?;
        let mut items = deletes.clone();
        items.extend(summary_change(stores, vps_id, SetChange::Remove, chunk)?);
        match send(stores, vps_id, items).await {
            Ok(()) => {}
            Err(Failure::TransactionCanceled(reasons)) if reasons.iter().any(|r| r == "ConditionalCheckFailed") => {
                send(stores, vps_id, deletes).await.map_err(Failure::into_store_error)?;
            }
            Err(failure) => return Err(failure.into_store_error()),
        }
    }
    Ok(())
}

/// Removes every assignment of a user or group (when it is deleted).
pub async fn unassign_everywhere(stores: &Stores, assignee: Assignee) -> Result<usize, StoreError> {
    let vps_ids = crate::vps::assigned_to(stores, assignee).await?;
    for vps_id in &vps_ids {
        unassign(stores, *vps_id, &[assignee]).await?;
    }
    Ok(vps_ids.len())
}

/// Removes every assignment of a VPS (when it ends).
pub async fn clear(stores: &Stores, vps_id: u64) -> Result<(), StoreError> {
    if let Some(view) = read(stores, vps_id).await? {
        let all: Vec<Assignee> = view.assignments.iter().map(|a| a.assignee).collect();
        unassign(stores, vps_id, &all).await?;
    }
    Ok(())
}

/// After `task`'s status change has committed: if it is a VPS that has ended,
/// removes its assignments. Best effort: the change has happened whatever this
/// does, and an ended VPS grants nobody access anyway (`/api/authorize` refuses
/// every VPS that is not alive), so a failure is logged, not answered; the
/// assignments then stay in the VPS's listings, granting nothing.
pub async fn release_if_ended(stores: &Stores, task: &TaskRecord) {
    if task.spec.task_type != TaskType::Vps || task.status.is_active() {
        return;
    }
    if let Err(error) = clear(stores, task.id).await {
        tracing::warn!(vps_id = task.id, error = %error, "could not remove the assignments of an ended VPS");
    }
}
