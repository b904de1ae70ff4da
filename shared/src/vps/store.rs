//! VPS assignments in the `tasks` table. A VPS is a task of type `vps`.
//!
//! Key layout: an assignment lives in its VPS's partition, `TASK#<vps id>` /
//! `ASSIGN#U#<user id>` or `ASSIGN#G#<group id>`, so one Query returns the VPS
//! and everyone assigned to it (the single DynamoDB read `/api/authorize`
//! spends); `gsi1pk = ASSIGNEE#U#<id>` / `ASSIGNEE#G#<id>` lists what a user or
//! group is assigned to (for `/api/vps/my` and the cascades).

use aws_sdk_dynamodb::types::{Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built, store_error};
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, s};
use crate::tasks::{TaskRecord, task_pk};
use crate::types::Timestamp;

/// Who a VPS is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Assignee {
    User(u64),
    Group(u64),
}

impl Assignee {
    fn sort_key(self) -> String {
        match self {
            Self::User(id) => format!("ASSIGN#U#{id:020}"),
            Self::Group(id) => format!("ASSIGN#G#{id:020}"),
        }
    }

    fn index_partition(self) -> String {
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
    for item in &items {
        match get_s(item, "sk")?.as_str() {
            "TASK" => task = Some(crate::tasks::from_item(item)?),
            sk if sk.starts_with("ASSIGN#") => assignments.push(parse_assignment(item)?),
            _ => {}
        }
    }
    Ok(task.filter(|t| t.spec.task_type == crate::tasks::TaskType::Vps).map(|task| VpsView { task, assignments }))
}

async fn batch_write(stores: &Stores, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
    for chunk in requests.chunks(25) {
        let mut pending = Some(chunk.to_vec());
        // Unprocessed items come back under load; send those again.
        for _ in 0..8 {
            let Some(batch) = pending.take().filter(|b| !b.is_empty()) else { break };
            let out = stores
                .dynamo
                .batch_write_item()
                .request_items(&stores.tables.tasks, batch)
                .send()
                .await
                .map_err(store_error)?;
            pending = out.unprocessed_items().and_then(|u| u.get(&stores.tables.tasks)).cloned();
            if pending.as_ref().is_some_and(|p| !p.is_empty()) {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        if pending.is_some_and(|p| !p.is_empty()) {
            return Err(StoreError::unavailable(
                crate::db::Store::DynamoDb,
                anyhow::anyhow!("batch write kept being throttled"),
            ));
        }
    }
    Ok(())
}

/// How many assignments one transaction writes, leaving room in DynamoDB's
/// 100 actions for the audit event and the actor's check.
const ASSIGN_CHUNK: usize = 90;

/// Assigns the VPS to every assignee (already assigned ones are left as they
/// were). Each chunk of [`ASSIGN_CHUNK`] is one transaction with its audit
/// event (`audit` describes the chunk), so an actor who lost the right to
/// assign meanwhile writes nothing more. Returns who was added.
pub async fn assign(
    stores: &Stores,
    vps_id: u64,
    assignees: &[Assignee],
    existing: &[Assignment],
    audit: impl Fn(&[Assignee]) -> AuditEvent,
    retention_days: u32,
) -> Result<Vec<Assignee>, StoreError> {
    let now = Timestamp::now();
    let mut added = Vec::new();
    let mut puts = Vec::new();
    for assignee in assignees {
        if existing.iter().any(|a| a.assignee == *assignee) || added.contains(assignee) {
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
        items.push(audit(who).transact_put(stores, retention_days)?);
        actor::transact(stores, items).await.map_err(Failure::into_store_error)?;
    }
    Ok(added)
}

/// Removes one assignment, with its audit event, as long as the actor may
/// still act.
pub async fn unassign_one(
    stores: &Stores,
    vps_id: u64,
    who: Assignee,
    audit: &AuditEvent,
    retention_days: u32,
) -> Result<(), StoreError> {
    let delete = built(
        Delete::builder().table_name(&stores.tables.tasks).set_key(Some(key(task_pk(vps_id), who.sort_key()))).build(),
    )?;
    let items = vec![TransactWriteItem::builder().delete(delete).build(), audit.transact_put(stores, retention_days)?];
    actor::transact(stores, items).await.map_err(Failure::into_store_error)
}

/// Removes assignments of one VPS.
pub async fn unassign(stores: &Stores, vps_id: u64, assignees: &[Assignee]) -> Result<(), StoreError> {
    let mut requests = Vec::new();
    for assignee in assignees {
        let delete = built(DeleteRequest::builder().set_key(Some(key(task_pk(vps_id), assignee.sort_key()))).build())?;
        requests.push(WriteRequest::builder().delete_request(delete).build());
    }
    batch_write(stores, requests).await
}

/// The ids of the VPS an assignee is assigned to.
pub async fn assigned_to(stores: &Stores, assignee: Assignee) -> Result<Vec<u64>, StoreError> {
    let partition = assignee.index_partition();
    let items =
        dynamo::query_all(&stores.dynamo, &stores.tables.tasks, Some("gsi1"), "gsi1pk", &partition, None).await?;
    items.iter().map(|item| get_n(item, "vps_id")).collect()
}

/// Removes every assignment of a user or group (when it is deleted).
pub async fn unassign_everywhere(stores: &Stores, assignee: Assignee) -> Result<usize, StoreError> {
    let vps_ids = assigned_to(stores, assignee).await?;
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
