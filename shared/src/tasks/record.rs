//! A task as stored in the `tasks` table: its record, keys and item mapping.
//!
//! Key layout: a task is `TASK#<id>`/`TASK`, its submission stored as JSON in
//! `spec`. Three indexes list tasks newest first, each sorted by
//! `<submitted ms>#<id>`: `gsi1pk = STATUS#<status>`, `gsi2pk = OWNER#<id>`
//! (`OWNER#system` for the system admin) and `gsi3pk = TASKS` (all). A VPS's
//! partition also holds its assignments and their summary (see `shared::vps`).

use serde::Serialize;

use crate::db::StoreError;
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, opt_s, s};
use crate::tasks::{TaskSpec, TaskStatus};
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
    /// The group the task counts against (see `shared::quotas`).
    pub group_id: Option<u64>,
    /// Whether the task's share was added to the usage counters (it was
    /// approved since counters exist); only then does its end return it.
    pub charged: bool,
}

pub fn task_pk(id: u64) -> String {
    format!("TASK#{id}")
}

pub(crate) fn sort_key(submitted: Timestamp, id: u64) -> String {
    format!("{:013}#{id:020}", submitted.millis())
}

pub(crate) fn owner_partition(owner: Option<u64>) -> String {
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
    pub(crate) fn from_item(item: &Item) -> Result<Self, StoreError> {
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
            group_id: opt_n(item, "group_id"),
            charged: item.get("charged").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        })
    }

    pub(crate) fn to_item(&self) -> Result<Item, StoreError> {
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
        if let Some(id) = self.group_id {
            item.insert("group_id".into(), n(id));
        }
        if self.charged {
            item.insert("charged".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(true));
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

/// The sort key of a VPS's assignment summary: the ids assigned, kept by
/// `shared::vps` in the same transactions as the assignments themselves. It
/// is written with every VPS submitted since the summary exists; a VPS without
/// one is older, and its assignments are read from its partition instead.
pub const ASSIGNMENT_SUMMARY_SK: &str = "ASSIGNEES";
