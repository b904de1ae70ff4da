//! Writing and reading single tasks in the `tasks` table (layout: see
//! `record.rs`). The count of tasks waiting for approval is the counter
//! `COUNTER`/`pending_approval`, changed in the same transaction as every
//! status change into or out of `pending_approval`, so the badge always
//! matches the list. Status changes are conditional on the status they start from.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built, store_error};
use crate::db::item::{key, n, opt_n, s};
use crate::quotas;
use crate::read_model::{Model, Read};
use crate::tasks::record::{ASSIGNMENT_SUMMARY_SK, sort_key};
use crate::tasks::{Actor, Filter, Owner, TaskRecord, TaskSpec, TaskStatus, TaskType, task_pk};
use crate::types::Timestamp;

/// A new task id: milliseconds since the epoch in the high bits and random low
/// bits (64-bit, time-ordered like the original's snowflakes); the conditional
/// put makes a collision an error, never an overwrite.
fn new_id() -> u64 {
    let ms = u64::try_from(Timestamp::now().millis()).unwrap_or(0);
    let random = u64::from(u32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().unwrap_or([0; 4])));
    (ms << 22) | (random & 0x3F_FFFF)
}

fn counter_add(stores: &Stores, delta: i64) -> Result<TransactWriteItem, StoreError> {
    dynamo::counter_action(&stores.tables.tasks, "pending_approval", delta)
}

/// A submission to store.
#[derive(Debug, Clone)]
pub struct NewTasks {
    pub specs: Vec<TaskSpec>,
    pub owner: Owner,
    /// The group the tasks count against (see `shared::quotas`).
    pub group_id: Option<u64>,
    /// `pending_approval`, or `assigning` when approved at submission.
    pub status: TaskStatus,
    pub approved: Option<Actor>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The quotas changed since `quota` was read (limits, or usage taken by a
    /// concurrent submission): read them again and decide again.
    #[error("the quota changed meanwhile")]
    QuotaChanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a cancelled transaction failed on one of `range`'s actions, or on
/// a conflict with a concurrent transaction (worth another try either way).
fn quota_race(reasons: &[String], range: std::ops::Range<usize>) -> bool {
    reasons
        .iter()
        .enumerate()
        .any(|(i, r)| (range.contains(&i) && r == "ConditionalCheckFailed") || r == "TransactionConflict")
}

/// Stores the tasks of one submission, with the badge counter, the audit
/// events and, for tasks approved at submission, their share of the quotas
/// (charged by the conditions `quota`, as read, allows: see `shared::quotas`).
pub async fn create(
    stores: &Stores,
    new: NewTasks,
    quota: &quotas::Snapshot,
    audit: impl FnOnce(&[TaskRecord]) -> Vec<AuditEvent>,
) -> Result<Vec<TaskRecord>, CreateError> {
    let NewTasks { specs, owner, group_id, status, approved } = new;
    let now = Timestamp::now();
    let ids: Vec<u64> = specs.iter().map(|_| new_id()).collect();
    let batch_id = ids.first().copied().unwrap_or(0);
    let charged = quotas::counts(status);
    let tasks: Vec<TaskRecord> = specs
        .into_iter()
        .zip(&ids)
        .map(|(spec, id)| TaskRecord {
            id: *id,
            batch_id,
            spec,
            status,
            owner: owner.clone(),
            owner_deleted: false,
            approved: approved.clone(),
            rejected: None,
            rejection_reason: None,
            cancelled: None,
            submitted_at: now,
            updated_at: now,
            dispatch_state: None,
            dispatch_attempts: 0,
            group_id,
            charged,
        })
        .collect();
    let new_item = |item| -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(&stores.tables.tasks)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    };
    let mut items = Vec::new();
    for task in &tasks {
        items.push(new_item(task.to_item()?)?);
        // A VPS starts with an empty assignment summary (see `shared::vps`).
        if task.spec.task_type == TaskType::Vps {
            items.push(new_item(key(task_pk(task.id), ASSIGNMENT_SUMMARY_SK))?);
        }
    }
    if status == TaskStatus::PendingApproval {
        items.push(counter_add(stores, i64::try_from(tasks.len()).unwrap_or(0))?);
    }
    let quota_start = items.len();
    if charged {
        let ask = tasks.iter().fold(quotas::Usage::default(), |sum, t| sum.plus(quotas::ask_of(&t.spec)));
        items.extend(quota.charge(stores, &ask)?);
    }
    let quota_range = quota_start..items.len();
    for event in audit(&tasks) {
        items.push(event.transact_put(stores)?);
    }
    let write = actor::transact(stores, items);
    let written = if status == TaskStatus::PendingApproval {
        pending_model(stores).around(&stores.redis, write).await
    } else {
        write.await
    };
    match written {
        Ok(()) => Ok(tasks),
        Err(Failure::TransactionCanceled(reasons)) if charged && quota_race(&reasons, quota_range) => {
            Err(CreateError::QuotaChanged)
        }
        Err(failure) => Err(failure.into_store_error().into()),
    }
}

pub async fn get(stores: &Stores, id: u64) -> Result<Option<TaskRecord>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.tasks, task_pk(id), "TASK").await?;
    item.as_ref().map(TaskRecord::from_item).transpose()
}

/// The tasks of `ids` that exist, in the order of `ids` (batch reads of up to
/// 100 tasks each).
pub async fn get_many(stores: &Stores, ids: &[u64]) -> Result<Vec<TaskRecord>, StoreError> {
    let keys = ids.iter().map(|id| key(task_pk(*id), "TASK")).collect();
    let items = dynamo::batch_get(&stores.dynamo, &stores.tables.tasks, keys).await?;
    let mut found = items.iter().map(TaskRecord::from_item).collect::<Result<Vec<_>, _>>()?;
    let order: std::collections::HashMap<u64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    found.sort_by_key(|t| order.get(&t.id).copied());
    Ok(found)
}

/// The read model of the count of tasks waiting for approval (see
/// `read_model.rs`): every change of the counter runs inside its fence.
pub fn pending_model(stores: &Stores) -> Model {
    Model::new(&stores.redis, "pending", "pending")
}

/// How many tasks wait for approval, from the answers to
/// `pending_model(..).reads()` (the badge: sent in the caller's round trip),
/// or on a miss from the counter in DynamoDB (then cached).
pub async fn pending_count(stores: &Stores, answers: &[redis::Value]) -> Result<u64, StoreError> {
    pending_count_from(stores, pending_model(stores).parse::<u64>(answers)).await
}

/// How many tasks wait for approval, in a round trip of its own.
pub async fn pending_count_now(stores: &Stores) -> Result<u64, StoreError> {
    pending_count_from(stores, pending_model(stores).read::<u64>(&stores.redis).await?).await
}

async fn pending_count_from(stores: &Stores, found: Read<u64>) -> Result<u64, StoreError> {
    let model = pending_model(stores);
    match found {
        Read::Hit(count) => Ok(count),
        Read::Miss { generation } => {
            let item =
                dynamo::get_item(&stores.dynamo, &stores.tables.tasks, "COUNTER".into(), "pending_approval").await?;
            let count = item.and_then(|i| opt_n::<i64>(&i, "value")).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
            model.fill(&stores.redis, &count, &generation).await;
            Ok(count)
        }
    }
}

/// A status change and what it records.
#[derive(Debug, Clone)]
pub enum Change {
    Approve(Actor),
    Reject(Actor, Option<String>),
    Cancel(Actor),
    /// A scheduler's progress report.
    Progress(TaskStatus),
}

impl Change {
    fn target(&self) -> TaskStatus {
        match self {
            Self::Approve(_) => TaskStatus::Assigning,
            Self::Reject(..) => TaskStatus::Rejected,
            Self::Cancel(_) => TaskStatus::Cancelled,
            Self::Progress(status) => *status,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("task not found")]
    NotFound,
    /// The task was not in the expected status (it holds this one).
    #[error("task is {0}")]
    WrongStatus(TaskStatus),
    /// Approving it now would exceed this limit (it waits until usage frees).
    #[error("quota exceeded: {0}")]
    QuotaExceeded(quotas::Exceeded),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves a task from `from` along `change`, atomically: it happens only if the
/// task is still in `from`, so of concurrent approvals (or an approval racing a
/// rejection) exactly one wins.
pub async fn transition(
    stores: &Stores,
    id: u64,
    from: TaskStatus,
    change: Change,
    audit: &AuditEvent,
) -> Result<TaskRecord, TransitionError> {
    let to = change.target();
    let now = Timestamp::now();
    let Some(before) = get(stores, id).await? else {
        return Err(TransitionError::NotFound);
    };
    let sort = sort_key(before.submitted_at, id);
    let mut update = Update::builder()
        .table_name(&stores.tables.tasks)
        .set_key(Some(key(task_pk(id), "TASK")))
        .condition_expression("#s = :from")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":from", s(from.as_str()))
        .expression_attribute_values(":to", s(to.as_str()))
        .expression_attribute_values(":g1", s(format!("STATUS#{to}")))
        .expression_attribute_values(":g1s", s(&sort))
        .expression_attribute_values(":now", n(now.millis()));
    let mut sets = vec!["#s = :to", "gsi1pk = :g1", "gsi1sk = :g1s", "updated_at_ms = :now"];
    let mut record = |prefix: &'static str, actor: &Actor, update: aws_sdk_dynamodb::types::builders::UpdateBuilder| {
        let mut u = update
            .expression_attribute_values(format!(":{prefix}_by"), s(&actor.username))
            .expression_attribute_values(format!(":{prefix}_at"), n(actor.at.millis()));
        sets.push(match prefix {
            "approved" => "approved_by = :approved_by, approved_at_ms = :approved_at",
            "rejected" => "rejected_by = :rejected_by, rejected_at_ms = :rejected_at",
            _ => "cancelled_by = :cancelled_by, cancelled_at_ms = :cancelled_at",
        });
        if let Some(uid) = actor.id {
            u = u.expression_attribute_values(format!(":{prefix}_id"), n(uid));
            sets.push(match prefix {
                "approved" => "approved_by_id = :approved_id",
                "rejected" => "rejected_by_id = :rejected_id",
                _ => "cancelled_by_id = :cancelled_id",
            });
        }
        u
    };
    update = match &change {
        Change::Approve(actor) => record("approved", actor, update),
        Change::Reject(actor, reason) => {
            let u = record("rejected", actor, update);
            match reason {
                Some(r) => {
                    sets.push("rejection_reason = :reason");
                    u.expression_attribute_values(":reason", s(r))
                }
                None => u,
            }
        }
        Change::Cancel(actor) => record("cancelled", actor, update),
        Change::Progress(_) => update,
    };
    // Approval starts the task's share of the quotas; the end of a task that
    // holds one returns it (see `shared::quotas`).
    let charging = quotas::counts(to) && !quotas::counts(from);
    let releasing = quotas::counts(from) && !quotas::counts(to) && before.charged;
    if charging {
        sets.push("charged = :charged");
        update = update.expression_attribute_values(":charged", AttributeValue::Bool(true));
    }
    let update = built(update.update_expression(format!("SET {}", sets.join(", "))).build())?;
    let ask = quotas::ask_of(&before.spec);
    let leaves_pending = from == TaskStatus::PendingApproval && to != TaskStatus::PendingApproval;
    for attempt in 0..TRIES {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(backoff_ms(attempt))).await;
        }
        let mut items = vec![TransactWriteItem::builder().update(update.clone()).build()];
        if leaves_pending {
            items.push(counter_add(stores, -1)?);
        }
        let quota_start = items.len();
        if charging {
            let snapshot = quotas::Snapshot::read(stores, before.group_id, before.owner.id).await?;
            if let Some(exceeded) = snapshot.over_remaining(&ask) {
                return Err(TransitionError::QuotaExceeded(exceeded));
            }
            items.extend(snapshot.charge(stores, &ask)?);
        } else if releasing {
            items.extend(quotas::release(stores, before.group_id, before.owner.id, &ask)?);
        }
        let quota_range = quota_start..items.len();
        items.push(audit.transact_put(stores)?);
        // The read models this change moves are fenced around it: a VPS's grants
        // depend on its status, the badge on the tasks waiting for approval.
        let write = actor::transact(stores, items);
        let write = async {
            if before.spec.task_type == TaskType::Vps {
                crate::vps::access::model(&stores.redis, id).around(&stores.redis, write).await
            } else {
                write.await
            }
        };
        let written =
            if leaves_pending { pending_model(stores).around(&stores.redis, write).await } else { write.await };
        match written {
            Ok(()) => return get(stores, id).await?.ok_or(TransitionError::NotFound),
            // The task is as expected but the quota was not (or a concurrent
            // transaction touched the same counters): read again, try again.
            Err(Failure::TransactionCanceled(reasons))
                if reasons.first().is_none_or(|r| r != "ConditionalCheckFailed")
                    && quota_race(&reasons, if charging { quota_range } else { 0..0 }) =>
            {
                continue;
            }
            Err(Failure::TransactionCanceled(_) | Failure::ConditionFailed) => {
                return match get(stores, id).await? {
                    Some(current) => Err(TransitionError::WrongStatus(current.status)),
                    None => Err(TransitionError::NotFound),
                };
            }
            Err(Failure::Store(e)) => return Err(e.into()),
        }
    }
    Err(StoreError::unavailable(
        crate::db::Store::DynamoDb,
        anyhow::anyhow!("task {id}: the quota counters stayed contended"),
    )
    .into())
}

/// How many times a transition retries a quota race or a transaction conflict.
const TRIES: u32 = 12;

/// A growing pause with jitter, so racing writers spread out.
fn backoff_ms(attempt: u32) -> u64 {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
    u64::from(attempt.min(6)) * 10 + jitter
}

/// Marks a deleted user's tasks, which stay, as owned by a deleted user.
pub async fn mark_owner_deleted(stores: &Stores, user_id: u64) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let filter = Filter { owner: Some(Some(user_id)), ..Filter::default() };
        let (page, next) = crate::tasks::list(stores, &filter, true, 100, after.as_deref()).await?;
        for task in page {
            stores
                .dynamo
                .update_item()
                .table_name(&stores.tables.tasks)
                .set_key(Some(key(task_pk(task.id), "TASK")))
                .update_expression("SET owner_deleted = :t")
                .expression_attribute_values(":t", AttributeValue::Bool(true))
                .send()
                .await
                .map_err(store_error)?;
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}

/// Records how announcing a task went.
pub async fn set_dispatch(
    stores: &Stores,
    id: u64,
    state: &str,
    attempts: u32,
    next_due_ms: Option<i64>,
) -> Result<(), StoreError> {
    let mut update = stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.tasks)
        .set_key(Some(key(task_pk(id), "TASK")))
        .expression_attribute_values(":st", s(state))
        .expression_attribute_values(":n", n(attempts));
    update = match next_due_ms {
        Some(due) => update
            .update_expression("SET dispatch_state = :st, dispatch_attempts = :n, dispatch_due_ms = :due")
            .expression_attribute_values(":due", n(due)),
        None => update.update_expression("SET dispatch_state = :st, dispatch_attempts = :n REMOVE dispatch_due_ms"),
    };
    update.send().await.map_err(store_error)?;
    Ok(())
}
