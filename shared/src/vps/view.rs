//! VPS as the API shows them: listed with their assignees (`/api/vps`,
//! `/api/vps/my`), and one VPS's assignments in detail.

use std::collections::HashMap;

use serde::Serialize;

use crate::db::{StoreError, Stores};
use crate::groups::{self, GroupRef};
use crate::tasks::{TaskRecord, TaskView};
use crate::types::{Role, Timestamp};
use crate::users;
use crate::vps::{Assignee, VpsView, assignments_of};

/// A user assigned to a VPS, as lists show them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Assignee)]
pub struct AssignedUser {
    id: u64,
    username: String,
    display_name: String,
}

/// A VPS as listed: the task with every field the tasks API shows (redacted
/// unless the caller owns it or is an operator), with its assignees.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VpsEntry {
    #[serde(flatten)]
    task: TaskView,
    /// Users assigned directly.
    assignees: Vec<AssignedUser>,
    /// Groups assigned.
    assigned_groups: Vec<GroupRef>,
}

/// `tasks` (VPS) as a caller of `role` (the user `user_id`) sees them, in the
/// same order. Reads: the assignments in one batch read (plus one Query per
/// VPS submitted before assignment summaries existed), then the names of
/// every assigned user and group in one batch read each, whatever the number
/// of VPS. Users and groups deleted meanwhile are left out.
pub async fn entries(
    stores: &Stores,
    tasks: &[TaskRecord],
    role: Role,
    user_id: Option<u64>,
) -> Result<Vec<VpsEntry>, StoreError> {
    let ids: Vec<u64> = tasks.iter().map(|t| t.id).collect();
    let assigned = if ids.is_empty() { HashMap::new() } else { assignments_of(stores, &ids).await? };
    let mut user_ids = Vec::new();
    let mut group_ids = Vec::new();
    for who in assigned.values().flatten() {
        match who {
            Assignee::User(id) => user_ids.push(*id),
            Assignee::Group(id) => group_ids.push(*id),
        }
    }
    user_ids.sort_unstable();
    user_ids.dedup();
    group_ids.sort_unstable();
    group_ids.dedup();
    let users = if user_ids.is_empty() { Vec::new() } else { users::get_many(stores, &user_ids).await? };
    let users: HashMap<u64, AssignedUser> = users
        .into_iter()
        .map(|u| (u.id, AssignedUser { id: u.id, username: u.username, display_name: u.display_name }))
        .collect();
    let groups = if group_ids.is_empty() { Vec::new() } else { groups::refs(stores, &group_ids).await? };
    let groups: HashMap<u64, GroupRef> = groups.into_iter().map(|g| (g.id, g)).collect();
    let entry = |task: &TaskRecord| {
        let who = assigned.get(&task.id).map(Vec::as_slice).unwrap_or_default();
        VpsEntry {
            task: TaskView::seen_by(task, role, user_id),
            assignees: who
                .iter()
                .filter_map(|a| match a {
                    Assignee::User(id) => users.get(id).cloned(),
                    Assignee::Group(_) => None,
                })
                .collect(),
            assigned_groups: who
                .iter()
                .filter_map(|a| match a {
                    Assignee::Group(id) => groups.get(id).cloned(),
                    Assignee::User(_) => None,
                })
                .collect(),
        }
    };
    Ok(tasks.iter().map(entry).collect())
}

/// A user's assignment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserAssignment {
    user_id: u64,
    username: String,
    display_name: String,
    assigned_at: Timestamp,
}

/// A group's assignment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupAssignment {
    group_id: u64,
    name: String,
    assigned_at: Timestamp,
}

/// `GET /api/vps/{id}/assignments`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Assignments {
    task_id: String,
    assignments: Vec<UserAssignment>,
    group_assignments: Vec<GroupAssignment>,
}

impl Assignments {
    /// Who `vps` is assigned to, with when, by id ascending; the names in one
    /// batch read for the users and one for the groups. Users and groups
    /// deleted meanwhile are left out.
    pub async fn read(stores: &Stores, vps: &VpsView) -> Result<Self, StoreError> {
        let when: HashMap<Assignee, Timestamp> = vps.assignments.iter().map(|a| (a.assignee, a.assigned_at)).collect();
        let (mut user_ids, mut group_ids) = (Vec::new(), Vec::new());
        for who in when.keys() {
            match who {
                Assignee::User(id) => user_ids.push(*id),
                Assignee::Group(id) => group_ids.push(*id),
            }
        }
        let users = if user_ids.is_empty() { Vec::new() } else { users::get_many(stores, &user_ids).await? };
        let groups = if group_ids.is_empty() { Vec::new() } else { groups::refs(stores, &group_ids).await? };
        let at = |who| when.get(&who).copied().unwrap_or_else(|| Timestamp::from_millis(0));
        Ok(Self {
            task_id: vps.task.id.to_string(),
            assignments: users
                .into_iter()
                .map(|u| UserAssignment {
                    user_id: u.id,
                    assigned_at: at(Assignee::User(u.id)),
                    username: u.username,
                    display_name: u.display_name,
                })
                .collect(),
            group_assignments: groups
                .into_iter()
                .map(|g| GroupAssignment { group_id: g.id, assigned_at: at(Assignee::Group(g.id)), name: g.name })
                .collect(),
        })
    }
}
