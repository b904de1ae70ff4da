//! Schemas of the answers the tasks handlers build as JSON values (the
//! OpenAPI document's view of them; schemathesis checks real answers against them).

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]

use std::collections::BTreeMap;

use shared::tasks::TaskStatus;
use shared::types::Timestamp;

/// A task as `view` shows it. Without full view (neither owner nor operator),
/// `command`, `arguments`, `env_vars` and `ip_reservation_token` are null and
/// `redacted` is true.
#[derive(utoipa::ToSchema)]
pub struct TaskView {
    task_id: String,
    batch_id: String,
    /// `command` or `vps`.
    task_type: String,
    name: Option<String>,
    status: TaskStatus,
    /// `pending`, `rejected`, `approved`, or null for a task that never needed approval.
    approval_status: Option<String>,
    owner_id: Option<u64>,
    owner_username: String,
    owner_deleted: bool,
    required_cores: u32,
    required_gpus: Vec<u32>,
    required_memory_bytes: Option<u64>,
    targets: Vec<String>,
    assigned_node: Option<String>,
    container_name: Option<String>,
    registry_image: Option<String>,
    privileged: bool,
    additional_mounts: Vec<String>,
    approved_by_username: Option<String>,
    approved_by_id: Option<u64>,
    approved_at: Option<Timestamp>,
    rejected_by_username: Option<String>,
    rejected_by_id: Option<u64>,
    rejected_at: Option<Timestamp>,
    rejection_reason: Option<String>,
    cancelled_by_username: Option<String>,
    cancelled_at: Option<Timestamp>,
    submitted_at: Timestamp,
    updated_at: Timestamp,
    dispatch_state: Option<String>,
    redacted: bool,
    command: Option<String>,
    arguments: Option<Vec<String>>,
    env_vars: Option<BTreeMap<String, String>>,
    ip_reservation_token: Option<String>,
}

/// `POST /api/tasks`.
#[derive(utoipa::ToSchema)]
pub struct Submitted {
    message: String,
    task_ids: Vec<String>,
    status: TaskStatus,
}

/// `GET /api/tasks/pending-approval/count`.
#[derive(utoipa::ToSchema)]
pub struct Count {
    count: u64,
}

/// Approval and cancellation.
#[derive(utoipa::ToSchema)]
pub struct Decided {
    message: String,
    task_id: String,
    task: TaskView,
}

/// A rejection, with its reason (null when none was given).
#[derive(utoipa::ToSchema)]
pub struct Rejected {
    message: String,
    task_id: String,
    reason: Option<String>,
    task: TaskView,
}

/// A scheduler's progress report.
#[derive(utoipa::ToSchema)]
pub struct Progressed {
    message: String,
    task: TaskView,
}
