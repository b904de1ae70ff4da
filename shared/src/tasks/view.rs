//! A task as the API shows it (the original's `TaskResponse`, plus approval
//! and dispatch details), in full or redacted. The tasks group, the VPS list
//! and the scheduler webhook all show tasks through [`TaskView`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tasks::{Actor, TaskRecord, TaskStatus};
use crate::types::{Role, Timestamp};

/// Whether a caller of `role` (the user `user_id`, `None` for the built-in
/// system admin) may see everything of `task`: its owner, and operators up.
pub fn sees_all(role: Role, user_id: Option<u64>, task: &TaskRecord) -> bool {
    role.at_least(Role::Operator) || (task.owner.id.is_some() && user_id == task.owner.id)
}

/// A task as the API shows it. Without full view (neither owner nor operator),
/// `command`, `arguments`, `env_vars` and `ip_reservation_token` are null and
/// `redacted` is true.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    task_id: String,
    batch_id: String,
    /// `command` or `vps`.
    task_type: &'static str,
    name: Option<String>,
    status: TaskStatus,
    /// `pending`, `rejected`, `approved`, or null for a task that never needed approval.
    approval_status: Option<&'static str>,
    owner_id: Option<u64>,
    owner_username: String,
    owner_deleted: bool,
    /// The group the task counts against (quotas), if any.
    group_id: Option<u64>,
    /// For a task waiting for approval, the limit it would exceed if approved
    /// now (e.g. `max_cores of group 3 (limit 8, in use 6, asked 4)`); set
    /// by the lists that compute it (`shared::quotas::exceeded_for`).
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_exceeded: Option<String>,
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

impl TaskView {
    /// Everything: for its owner, operators and the scheduler.
    pub fn full(task: &TaskRecord) -> Self {
        Self::new(task, true)
    }

    /// What a caller of `role` (the user `user_id`) may see: see [`sees_all`].
    pub fn seen_by(task: &TaskRecord, role: Role, user_id: Option<u64>) -> Self {
        Self::new(task, sees_all(role, user_id, task))
    }

    /// The view with the limit the task would exceed (see `quota_exceeded`).
    #[must_use]
    pub fn with_quota_exceeded(mut self, exceeded: Option<String>) -> Self {
        self.quota_exceeded = exceeded;
        self
    }

    /// The task; without `full`, what only its owner and operators may read is
    /// null and `redacted` is true. Ids are strings (64-bit).
    pub fn new(task: &TaskRecord, full: bool) -> Self {
        let spec = &task.spec;
        let approval_status = if task.status == TaskStatus::PendingApproval {
            Some("pending")
        } else if task.rejected.is_some() {
            Some("rejected")
        } else if task.approved.is_some() {
            Some("approved")
        } else {
            None
        };
        let owner_username =
            if task.owner_deleted { format!("{} (deleted)", task.owner.username) } else { task.owner.username.clone() };
        let by = |actor: &Option<Actor>| actor.as_ref().map(|a| a.username.clone());
        let by_id = |actor: &Option<Actor>| actor.as_ref().and_then(|a| a.id);
        let at = |actor: &Option<Actor>| actor.as_ref().map(|a| a.at);
        Self {
            task_id: task.id.to_string(),
            batch_id: task.batch_id.to_string(),
            task_type: spec.task_type.as_str(),
            name: spec.name.clone(),
            status: task.status,
            approval_status,
            owner_id: task.owner.id,
            owner_username,
            owner_deleted: task.owner_deleted,
            group_id: task.group_id,
            quota_exceeded: None,
            required_cores: spec.required_cores,
            required_gpus: spec.required_gpus.clone(),
            required_memory_bytes: spec.required_memory_bytes,
            targets: spec.target.iter().cloned().collect(),
            assigned_node: spec.target.as_deref().map(|t| t.split(':').next().unwrap_or(t).to_owned()),
            container_name: spec.container_name.clone(),
            registry_image: spec.registry_image.clone(),
            privileged: spec.privileged,
            additional_mounts: spec.additional_mounts.clone(),
            approved_by_username: by(&task.approved),
            approved_by_id: by_id(&task.approved),
            approved_at: at(&task.approved),
            rejected_by_username: by(&task.rejected),
            rejected_by_id: by_id(&task.rejected),
            rejected_at: at(&task.rejected),
            rejection_reason: task.rejection_reason.clone(),
            cancelled_by_username: by(&task.cancelled),
            cancelled_at: at(&task.cancelled),
            submitted_at: task.submitted_at,
            updated_at: task.updated_at,
            dispatch_state: task.dispatch_state.clone(),
            redacted: !full,
            command: full.then(|| spec.command.clone()),
            arguments: full.then(|| spec.arguments.clone()),
            env_vars: full.then(|| spec.env_vars.clone()),
            ip_reservation_token: spec.ip_reservation_token.clone().filter(|_| full),
        }
    }
}
