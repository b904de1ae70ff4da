//! VPS assignments in the `tasks` table: keys and reads (writes: write.rs). A
//! VPS is a task of type `vps`.
//!
//! Key layout: an assignment lives in its VPS's partition, `TASK#<vps id>` /
//! `ASSIGN#U#<user id>` or `ASSIGN#G#<group id>`, so one Query returns the VPS
//! and everyone assigned to it (the single DynamoDB read `/api/authorize`
//! spends); `gsi1pk = ASSIGNEE#U#<id>` / `ASSIGNEE#G#<id>` lists what a user or
//! group is assigned to (for `/api/vps/my` and the cascades).
//!
//! The summary `TASK#<vps id>`/`ASSIGNEES` holds the assigned ids as two number
//! sets (`user_ids`, `group_ids`), changed in the same transaction as the
//! assignments, so a list of VPS reads everyone's assignees in one batch read
//! instead of one Query per VPS. Every VPS gets its summary when it is
//! submitted; a VPS submitted before summaries existed has none, and its
//! assignments are read from its partition (one Query each).

use std::collections::HashMap;

use serde::Serialize;

use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo;
use crate::db::item::{Item, get_n, get_s, key, opt_n};
use crate::tasks::{ASSIGNMENT_SUMMARY_SK, TaskRecord, TaskType, task_pk};
use crate::types::Timestamp;

/// Who a VPS is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Assignee {
    User(u64),
    Group(u64),
}

impl Assignee {
    pub(crate) fn sort_key(self) -> String {
        match self {
            Self::User(id) => format!("ASSIGN#U#{id:020}"),
            Self::Group(id) => format!("ASSIGN#G#{id:020}"),
        }
    }

    pub(crate) fn index_partition(self) -> String {
        match self {
            Self::User(id) => format!("ASSIGNEE#U#{id}"),
            Self::Group(id) => format!("ASSIGNEE#G#{id}"),
        }
    }
}

/// One assignment, with when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    #[serde(skip)]
    pub assignee: Assignee,
    pub assigned_at: Timestamp,
}

/// A VPS with its assignments, read together.
#[derive(Debug, Clone)]
pub struct VpsView {
    pub task: TaskRecord,
    pub assignments: Vec<Assignment>,
    /// Whether the VPS has its assignment summary (every VPS submitted since
    /// summaries exist); writes keep it in step with the assignments.
    pub summarized: bool,
}

impl VpsView {
    /// Whether `user_id` (in `group_ids`) may connect: owner, assigned, or in an assigned group.
    pub fn grants_connect(&self, user_id: u64, group_ids: &[u64]) -> bool {
        self.task.owner.id == Some(user_id)
            || self.assignments.iter().any(|a| match a.assignee {
                Assignee::User(id) => id == user_id,
                Assignee::Group(id) => group_ids.contains(&id),
            })
    }
}

fn parse_assignment(item: &Item) -> Result<Assignment, StoreError> {
    let kind = get_s(item, "assignee_kind")?;
    let id: u64 = get_n(item, "assignee_id")?;
    let assignee = if kind == "group" { Assignee::Group(id) } else { Assignee::User(id) };
    Ok(Assignment { assignee, assigned_at: Timestamp::from_millis(opt_n(item, "assigned_at_ms").unwrap_or(0)) })
}

/// The VPS and its assignments, in one Query of its partition. `None` if there
/// is no such task or it is not a VPS.
pub async fn read(stores: &Stores, vps_id: u64) -> Result<Option<VpsView>, StoreError> {
    let items = dynamo::query_all(&stores.dynamo, &stores.tables.tasks, None, "pk", &task_pk(vps_id), None).await?;
    let mut task = None;
    let mut assignments = Vec::new();
    let mut summarized = false;
    for item in &items {
        match get_s(item, "sk")?.as_str() {
            "TASK" => task = Some(crate::tasks::from_item(item)?),
            ASSIGNMENT_SUMMARY_SK => summarized = true,
            sk if sk.starts_with("ASSIGN#") => assignments.push(parse_assignment(item)?),
            _ => {}
        }
    }
    Ok(task.filter(|t| t.spec.task_type == TaskType::Vps).map(|task| VpsView { task, assignments, summarized }))
}

/// The ids in the number set `attr` of a summary, ascending.
fn id_set(item: &Item, attr: &str) -> Result<Vec<u64>, StoreError> {
    let Some(value) = item.get(attr) else { return Ok(Vec::new()) };
    let numbers = value.as_ns().map_err(|_| StoreError::Internal(anyhow::anyhow!("{attr} is not a number set")))?;
    let mut ids = numbers
        .iter()
        .map(|n| n.parse().map_err(|_| StoreError::Internal(anyhow::anyhow!("{attr} holds {n:?}"))))
        .collect::<Result<Vec<u64>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Who each VPS of `vps_ids` is assigned to (users by id, then groups by id):
/// the summaries in batch reads of up to 100, and one Query of its partition
/// for each VPS that has no summary (submitted before summaries existed).
/// Every id of `vps_ids` gets an entry.
pub async fn assignments_of(stores: &Stores, vps_ids: &[u64]) -> Result<HashMap<u64, Vec<Assignee>>, StoreError> {
    let table = &stores.tables.tasks;
    let keys = vps_ids.iter().map(|id| key(task_pk(*id), ASSIGNMENT_SUMMARY_SK)).collect();
    let mut found = HashMap::with_capacity(vps_ids.len());
    for item in dynamo::batch_get(&stores.dynamo, table, keys).await? {
        let vps_id = get_s(&item, "pk")?
            .strip_prefix("TASK#")
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a summary outside a task's partition")))?;
        let users = id_set(&item, "user_ids")?.into_iter().map(Assignee::User);
        let groups = id_set(&item, "group_ids")?.into_iter().map(Assignee::Group);
        found.insert(vps_id, users.chain(groups).collect::<Vec<_>>());
    }
    for vps_id in vps_ids {
        if found.contains_key(vps_id) {
            continue;
        }
        let prefix = Some(("sk", "ASSIGN#"));
        let items = dynamo::query_all(&stores.dynamo, table, None, "pk", &task_pk(*vps_id), prefix).await?;
        let mut assignees =
            items.iter().map(|i| parse_assignment(i).map(|a| a.assignee)).collect::<Result<Vec<_>, _>>()?;
        assignees.sort_unstable();
        found.insert(*vps_id, assignees);
    }
    Ok(found)
}

/// The ids of the VPS an assignee is assigned to.
pub async fn assigned_to(stores: &Stores, assignee: Assignee) -> Result<Vec<u64>, StoreError> {
    let partition = assignee.index_partition();
    let items =
        dynamo::query_all(&stores.dynamo, &stores.tables.tasks, Some("gsi1"), "gsi1pk", &partition, None).await?;
    items.iter().map(|item| get_n(item, "vps_id")).collect()
}
