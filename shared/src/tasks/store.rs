//! Tasks in the `tasks` table.
//!
//! Key layout: a task is `TASK#<id>`/`TASK`, its submission stored as JSON in
//! `spec`. Three indexes list tasks newest first, each sorted by
//! `<submitted ms>#<id>`: `gsi1pk = STATUS#<status>`, `gsi2pk = OWNER#<id>`
//! (`OWNER#system` for the system admin) and `gsi3pk = TASKS` (all). The
//! count of tasks waiting for approval is the counter `COUNTER`/
//! `pending_approval`, changed in the same transaction as every status change
//! into or out of `pending_approval`, so the badge always matches the list.
//! Status changes are conditional on the status they start from.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built, store_error};
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, opt_s, s};
use crate::tasks::{TaskSpec, TaskStatus, TaskType};
use crate::types::Timestamp;

/// Who a task belongs to, as recorded at submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `None` for the built-in system admin.
    pub id: Option<u64>,
    pub username: String,
}

/// Someone who approved, rejected or cancelled a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: Option<u64>,
    pub username: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: u64,
    pub batch_id: u64,
    pub spec: TaskSpec,
    pub status: TaskStatus,
    pub owner: Owner,
    pub owner_deleted: bool,
    pub approved: Option<Actor>,
    pub rejected: Option<Actor>,
    pub rejection_reason: Option<String>,
    pub cancelled: Option<Actor>,
    pub submitted_at: Timestamp,
    pub updated_at: Timestamp,
    /// `delivered`, `pending` (to retry) or `failed`, once the task was announced.
    pub dispatch_state: Option<String>,
    pub dispatch_attempts: u32,
}

pub fn task_pk(id: u64) -> String {
    format!("TASK#{id}")
}

fn sort_key(submitted: Timestamp, id: u64) -> String {
    format!("{:013}#{id:020}", submitted.millis())
}

/// Whether `position` has the shape [`list`] hands out (`<13 digits>#<20
/// digits>`): anything else must not reach DynamoDB as a start key.
pub fn is_list_position(position: &str) -> bool {
    position.split_once('#').is_some_and(|(ms, id)| {
        ms.len() == 13 && id.len() == 20 && ms.bytes().chain(id.bytes()).all(|b| b.is_ascii_digit())
    })
}

fn owner_partition(owner: Option<u64>) -> String {
    owner.map_or_else(|| "OWNER#system".to_owned(), |id| format!("OWNER#{id}"))
}

fn actor_of(item: &Item, prefix: &str) -> Option<Actor> {
    let username = opt_s(item, &format!("{prefix}_by"))?;
    Some(Actor {
        id: opt_n(item, &format!("{prefix}_by_id")),
        username,
        at: Timestamp::from_millis(opt_n(item, &format!("{prefix}_at_ms")).unwrap_or(0)),
    })
}

/// Reads a task item (for modules that fetch tasks together with other items).
pub fn from_item(item: &Item) -> Result<TaskRecord, StoreError> {
    TaskRecord::from_item(item)
}

impl TaskRecord {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let spec: TaskSpec = serde_json::from_str(&get_s(item, "spec")?).map_err(|e| StoreError::Internal(e.into()))?;
        let status = get_s(item, "status")?;
        Ok(Self {
            id: get_n(item, "id")?,
            batch_id: get_n(item, "batch_id")?,
            spec,
            status: status.parse().map_err(|()| StoreError::Internal(anyhow::anyhow!("stored status {status:?}")))?,
            owner: Owner { id: opt_n(item, "owner_id"), username: get_s(item, "owner_username")? },
            owner_deleted: item.get("owner_deleted").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
            approved: actor_of(item, "approved"),
            rejected: actor_of(item, "rejected"),
            rejection_reason: opt_s(item, "rejection_reason"),
            cancelled: actor_of(item, "cancelled"),
            submitted_at: Timestamp::from_millis(get_n(item, "submitted_at_ms")?),
            updated_at: Timestamp::from_millis(get_n(item, "updated_at_ms")?),
            dispatch_state: opt_s(item, "dispatch_state"),
            dispatch_attempts: opt_n(item, "dispatch_attempts").unwrap_or(0),
        })
    }

    fn to_item(&self) -> Result<Item, StoreError> {
        let sort = sort_key(self.submitted_at, self.id);
        let mut item = key(task_pk(self.id), "TASK");
        item.extend([
            ("gsi1pk".to_owned(), s(format!("STATUS#{}", self.status))),
            ("gsi1sk".to_owned(), s(&sort)),
            ("gsi2pk".to_owned(), s(owner_partition(self.owner.id))),
            ("gsi2sk".to_owned(), s(&sort)),
            ("gsi3pk".to_owned(), s("TASKS")),
            ("gsi3sk".to_owned(), s(&sort)),
            ("id".to_owned(), n(self.id)),
            ("batch_id".to_owned(), n(self.batch_id)),
            ("task_type".to_owned(), s(self.spec.task_type.as_str())),
            ("status".to_owned(), s(self.status.as_str())),
            ("owner_username".to_owned(), s(&self.owner.username)),
            ("spec".to_owned(), s(serde_json::to_string(&self.spec).map_err(|e| StoreError::Internal(e.into()))?)),
            ("submitted_at_ms".to_owned(), n(self.submitted_at.millis())),
            ("updated_at_ms".to_owned(), n(self.updated_at.millis())),
        ]);
        if let Some(id) = self.owner.id {
            item.insert("owner_id".into(), n(id));
        }
        if let Some(a) = &self.approved {
            item.insert("approved_by".into(), s(&a.username));
            item.insert("approved_at_ms".into(), n(a.at.millis()));
            if let Some(id) = a.id {
                item.insert("approved_by_id".into(), n(id));
            }
        }
        Ok(item)
    }
}

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

/// Stores the tasks of one submission, with the badge counter and the audit event.
pub async fn create(
    stores: &Stores,
    specs: Vec<TaskSpec>,
    owner: Owner,
    status: TaskStatus,
    approved: Option<Actor>,
    audit: impl FnOnce(&[TaskRecord]) -> AuditEvent,
    retention_days: u32,
) -> Result<Vec<TaskRecord>, StoreError> {
    let now = Timestamp::now();
    let ids: Vec<u64> = specs.iter().map(|_| new_id()).collect();
    let batch_id = ids.first().copied().unwrap_or(0);
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
        })
        .collect();
    let mut items = Vec::new();
    for task in &tasks {
        let put = built(
            Put::builder()
                .table_name(&stores.tables.tasks)
                .set_item(Some(task.to_item()?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        items.push(TransactWriteItem::builder().put(put).build());
    }
    if status == TaskStatus::PendingApproval {
        items.push(counter_add(stores, i64::try_from(tasks.len()).unwrap_or(0))?);
    }
    items.push(audit(&tasks).transact_put(stores, retention_days)?);
    match actor::transact(stores, items).await {
        Ok(()) => Ok(tasks),
        Err(failure) => Err(failure.into_store_error()),
    }
}

pub async fn get(stores: &Stores, id: u64) -> Result<Option<TaskRecord>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.tasks, task_pk(id), "TASK").await?;
    item.as_ref().map(TaskRecord::from_item).transpose()
}

/// How many tasks wait for approval (one read; the badge).
pub async fn pending_count(stores: &Stores) -> Result<u64, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.tasks, "COUNTER".into(), "pending_approval").await?;
    Ok(item.and_then(|i| opt_n::<i64>(&i, "value")).and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
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
    retention_days: u32,
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
    let update = built(update.update_expression(format!("SET {}", sets.join(", "))).build())?;
    let mut items = vec![TransactWriteItem::builder().update(update).build()];
    if from == TaskStatus::PendingApproval && to != TaskStatus::PendingApproval {
        items.push(counter_add(stores, -1)?);
    }
    items.push(audit.transact_put(stores, retention_days)?);
    match actor::transact(stores, items).await {
        Ok(()) => get(stores, id).await?.ok_or(TransitionError::NotFound),
        Err(failure) => match failure {
            Failure::TransactionCanceled(_) | Failure::ConditionFailed => match get(stores, id).await? {
                Some(current) => Err(TransitionError::WrongStatus(current.status)),
                None => Err(TransitionError::NotFound),
            },
            Failure::Store(e) => Err(e.into()),
        },
    }
}

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<TaskStatus>,
    /// `Some(None)`: the system admin's tasks.
    pub owner: Option<Option<u64>>,
    pub task_type: Option<TaskType>,
}

/// The most index items one [`list`] call reads. A filter DynamoDB applies
/// after reading (`owner` together with `status`, or `task_type`) may match
/// few of them; without a cap one request could read a whole partition. When
/// the cap stops the walk, the page is shorter than asked for (even empty) and
/// still carries the position to continue from.
pub const MAX_EXAMINED: usize = 1_000;

/// One page, newest first (oldest first with `oldest_first`), and the sort key
/// to continue after: after the last task returned, or after the last one read
/// when [`MAX_EXAMINED`] ended the walk first.
pub async fn list(
    stores: &Stores,
    filter: &Filter,
    oldest_first: bool,
    limit: usize,
    after: Option<&str>,
) -> Result<(Vec<TaskRecord>, Option<String>), StoreError> {
    // The most selective index: status, else owner, else all.
    let (index, partition) = match (filter.status, filter.owner) {
        (Some(status), _) => ("gsi1", format!("STATUS#{status}")),
        (None, Some(owner)) => ("gsi2", owner_partition(owner)),
        (None, None) => ("gsi3", "TASKS".to_owned()),
    };
    let mut conditions = Vec::new();
    let mut values = vec![(":p".to_owned(), s(&partition))];
    if let (Some(_), Some(owner)) = (filter.status, filter.owner) {
        match owner {
            Some(id) => {
                conditions.push("owner_id = :owner");
                values.push((":owner".into(), n(id)));
            }
            None => conditions.push("attribute_not_exists(owner_id)"),
        }
    }
    if let Some(t) = filter.task_type {
        conditions.push("task_type = :tt");
        values.push((":tt".into(), s(t.as_str())));
    }
    let mut start = match after {
        Some(sort) => {
            let id: u64 = sort.rsplit('#').next().and_then(|i| i.parse().ok()).unwrap_or(0);
            let mut k = key(task_pk(id), "TASK");
            k.insert(format!("{index}pk"), s(&partition));
            k.insert(format!("{index}sk"), s(sort));
            Some(k)
        }
        None => None,
    };
    let mut found = Vec::new();
    let mut examined = 0;
    loop {
        // Ask for what is still missing; when a filter dropped items, ask for
        // as many as were read so far (so a sparse filter takes a few
        // doubling queries, not one per missing row), never past the cap.
        let want = (limit - found.len()).max(examined).min(MAX_EXAMINED.saturating_sub(examined)).max(1);
        let mut request = stores
            .dynamo
            .query()
            .table_name(&stores.tables.tasks)
            .index_name(index)
            .key_condition_expression(format!("{index}pk = :p"))
            .scan_index_forward(oldest_first)
            .limit(i32::try_from(want).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take());
        for (name, value) in &values {
            request = request.expression_attribute_values(name, value.clone());
        }
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        let out = request.send().await.map_err(store_error)?;
        // What DynamoDB read, matching or not (at least one, so the walk ends).
        examined += usize::try_from(out.scanned_count()).unwrap_or(0).max(out.items().len()).max(1);
        for item in out.items() {
            let task = TaskRecord::from_item(item)?;
            let sort = sort_key(task.submitted_at, task.id);
            found.push(task);
            if found.len() == limit {
                return Ok((found, Some(sort)));
            }
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() && examined >= MAX_EXAMINED => {
                // The cap: continue after the last item read, matched or not.
                let position = k.get(&format!("{index}sk")).and_then(|v| v.as_s().ok()).cloned();
                return match position {
                    Some(position) if is_list_position(&position) => Ok((found, Some(position))),
                    _ => Err(StoreError::Internal(anyhow::anyhow!("task query ended on an unexpected key"))),
                };
            }
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok((found, None)),
        }
    }
}

/// Marks a deleted user's tasks, which stay, as owned by a deleted user.
pub async fn mark_owner_deleted(stores: &Stores, user_id: u64) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let filter = Filter { owner: Some(Some(user_id)), ..Filter::default() };
        let (page, next) = list(stores, &filter, true, 100, after.as_deref()).await?;
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

/// Tasks in `assigning` whose announcement is due for another try.
pub async fn due_for_dispatch(stores: &Stores, now_ms: i64) -> Result<Vec<TaskRecord>, StoreError> {
    // Every page: delivered tasks stay `assigning` until the scheduler moves
    // them on, so the due ones can sit past DynamoDB's first 1 MB.
    let mut due = Vec::new();
    let mut start = None;
    loop {
        let out = stores
            .dynamo
            .query()
            .table_name(&stores.tables.tasks)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :p")
            .filter_expression("dispatch_state = :pending AND dispatch_due_ms <= :now")
            .expression_attribute_values(":p", s("STATUS#assigning"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", n(now_ms))
            // Pages of 100 evaluated tasks keep each call small.
            .limit(100)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(store_error)?;
        for item in out.items() {
            due.push(TaskRecord::from_item(item)?);
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(due),
        }
    }
}
