//! Schemas of the answers the vps handlers build as JSON values (the
//! OpenAPI document's view of them; schemathesis checks real answers against them).

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]

use shared::groups::GroupRef;
use shared::tasks::TaskStatus;
use shared::types::Role;
use shared::types::Timestamp;

/// A user assigned to a VPS, as lists show them.
#[derive(utoipa::ToSchema)]
pub struct Assignee {
    id: u64,
    username: String,
    display_name: String,
}

/// A VPS as listed: the task (its command null and `redacted` true unless the
/// caller owns it or is an operator) with its assignees.
#[derive(utoipa::ToSchema)]
pub struct VpsEntry {
    task_id: String,
    /// Always `vps`.
    task_type: String,
    name: Option<String>,
    status: TaskStatus,
    owner_id: Option<u64>,
    owner_username: String,
    required_cores: u32,
    required_gpus: Vec<u32>,
    required_memory_bytes: Option<u64>,
    targets: Vec<String>,
    container_name: Option<String>,
    registry_image: Option<String>,
    submitted_at: Timestamp,
    updated_at: Timestamp,
    command: Option<String>,
    redacted: bool,
    assignees: Vec<Assignee>,
    assigned_groups: Vec<GroupRef>,
}

/// `POST /api/vps/{id}/assign`.
#[derive(utoipa::ToSchema)]
pub struct Assigned {
    message: String,
    task_id: String,
    assigned_users: Vec<u64>,
    assigned_groups: Vec<u64>,
}

/// A user's assignment.
#[derive(utoipa::ToSchema)]
pub struct UserAssignment {
    user_id: u64,
    username: String,
    display_name: String,
    assigned_at: Timestamp,
}

/// A group's assignment.
#[derive(utoipa::ToSchema)]
pub struct GroupAssignment {
    group_id: u64,
    name: String,
    assigned_at: Timestamp,
}

/// `GET /api/vps/{id}/assignments`.
#[derive(utoipa::ToSchema)]
pub struct Assignments {
    task_id: String,
    assignments: Vec<UserAssignment>,
    group_assignments: Vec<GroupAssignment>,
}

/// `POST /api/authorize` when allowed.
#[derive(utoipa::ToSchema)]
pub struct Allowed {
    allowed: bool,
    user: String,
    /// Null for the built-in system admin.
    user_id: Option<u64>,
    role: Role,
}
