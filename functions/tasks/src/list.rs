//! Reading tasks: the list (viewer+), one task (viewer+), and the approval
//! queue (operator+, and a group's managers for their members' tasks) and its
//! badge count (operator+). A manager sees their groups' members' tasks in
//! full (see docs/groups-invitations.md).

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::auth::Require;
use shared::auth::min;
use shared::auth::{Caller, Deferred};
use shared::http::extract::{Path, Query};
use shared::http::page;
use shared::identity;
use shared::tasks::{self, Filter, TaskRecord, TaskView};
use shared::tasks::{TaskStatus, TaskType};
use shared::types::Role;
use shared::users;
use shared::users::Username;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<shared::tasks::TaskStatus>)]
    status: Option<String>,
    /// A username (`_system` for the system admin's tasks).
    #[param(pattern = r"^[A-Za-z0-9_.-]{3,50}$")]
    owner: Option<String>,
    #[param(value_type = Option<shared::tasks::TaskType>)]
    task_type: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A task id from the path: ids are 64-bit numbers; anything else names no task.
pub fn parse_id(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| ApiError::not_found("Task not found"))
}

/// The task `raw_id`, if the caller's token (if any) may act on it.
pub async fn load(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<TaskRecord> {
    let id = parse_id(raw_id)?;
    caller.within_resources(id, true)?;
    let task = tasks::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Task not found"))?;
    caller.within_resources(id, task.spec.task_type == TaskType::Vps)?;
    Ok(task)
}

/// The users whose tasks the caller sees in full as a manager: the members
/// of the groups they manage (empty for operators, who see every task in
/// full anyway, and for callers who manage no group).
async fn managed_owners(state: &AppState, caller: &Caller) -> ApiResult<HashSet<u64>> {
    match caller.user() {
        Some(user) if !caller.role().at_least(Role::Operator) => {
            let managed = user.managed_groups();
            if managed.is_empty() {
                Ok(HashSet::new())
            } else {
                Ok(identity::members_of(&state.stores, &managed).await?)
            }
        }
        _ => Ok(HashSet::new()),
    }
}

/// The view of `task` for `caller`, in full when they manage its owner's group.
fn view_for(task: &TaskRecord, caller: &Caller, managed: &HashSet<u64>) -> TaskView {
    if task.owner.id.is_some_and(|owner| managed.contains(&owner)) {
        TaskView::full(task)
    } else {
        TaskView::seen_by(task, caller.role(), caller.user_id())
    }
}

/// Newest first. Everyone viewer+ sees every task; what only owners,
/// operators and the owner's group managers may read is redacted for the others.
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", params(ListQuery),
    responses((status = 200, description = "A page of tasks, newest first; others' details redacted below operator", body = Vec<TaskView>)))]
pub async fn list(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Viewer>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(|s| s.parse::<TaskStatus>().map_err(|()| ApiError::invalid("status", format!("unknown status {s:?}"))))
        .transpose()?;
    let task_type = q
        .task_type
        .as_deref()
        .map(|t| t.parse::<TaskType>().map_err(|()| ApiError::invalid("task_type", "must be command or vps")))
        .transpose()?;
    let owner = match q.owner.as_deref() {
        None => None,
        Some("_system") => Some(None),
        Some(name) => match users::find_by_username(&state.stores, &owner_key(name)?).await? {
            Some(user) => Some(Some(user.id)),
            // No such user owns nothing.
            None => return Ok(page::respond(Vec::<TaskView>::new(), None)),
        },
    };
    let after = page::decode_checked(q.cursor.as_deref(), tasks::is_list_position)?;
    let filter = Filter { status, owner, task_type };
    let (found, next) = tasks::list(&state.stores, &filter, false, limit, after.as_deref()).await?;
    let managed = managed_owners(&state, &caller).await?;
    let views: Vec<TaskView> = found.iter().map(|t| view_for(t, &caller, &managed)).collect();
    Ok(page::respond(views, next.map(|n| page::encode(&n))))
}

/// The lookup key of the `owner` filter: a username, or a 422.
fn owner_key(name: &str) -> ApiResult<String> {
    Username::parse(name).map(|n| n.key()).map_err(|_| ApiError::invalid("owner", "is not a username"))
}

#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = String, Path, description = "Task id (a 64-bit number, as a string)")),
    responses((status = 200, description = "The task; details redacted unless the caller owns it or is an operator", body = TaskView)))]
pub async fn get(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Viewer>,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskView>> {
    let task = load(&state, &caller, &id).await?;
    if !shared::tasks::sees_all(caller.role(), caller.user_id(), &task)
        && let (Some(user), Some(owner)) = (caller.user(), task.owner.id)
        && identity::managed_group_of(&state.stores, user, owner).await?.is_some()
    {
        return Ok(Json(TaskView::full(&task)));
    }
    Ok(Json(TaskView::seen_by(&task, caller.role(), caller.user_id())))
}

/// The original's `GET /api/status/{id}`: the same as [`get`].
#[utoipa::path(get, path = "/api/status/{id}", tag = "tasks", params(("id" = String, Path, description = "Task id (a 64-bit number, as a string)")),
    responses((status = 200, description = "The task; details redacted unless the caller owns it or is an operator", body = TaskView)))]
pub async fn get_compat(
    state: State<AppState>,
    caller: Require<min::Viewer>,
    id: Path<String>,
) -> ApiResult<Json<TaskView>> {
    get(state, caller, id).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PendingQuery {
    /// Only the tasks of this group's members (operators: any group; a
    /// manager: a group they manage).
    group: Option<u64>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `X-Next-Cursor` of the previous page.
    cursor: Option<String>,
}

/// How many pages of the queue one filtered request reads at most; a page
/// may then be short (even empty) and still carry the cursor to go on.
const FILTERED_PAGES: usize = 10;

/// Oldest first, in full (approvers must see `privileged` and `additional_mounts`).
/// Operators see every pending task, or with `?group=` those of that group's
/// members; a group's manager sees those of the groups they manage (or of
/// one), but for their own.
#[utoipa::path(get, path = "/api/tasks/pending-approval", tag = "tasks", params(PendingQuery),
    responses((status = 200, description = "Tasks waiting for approval, oldest first, in full", body = Vec<TaskView>), (status = 403, description = "Below operator and no manager (of that group)", body = shared::http::openapi::ErrorBody)))]
pub async fn pending(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    Query(q): Query<PendingQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let after = page::decode_checked(q.cursor.as_deref(), tasks::is_list_position)?;
    let operator = caller.role().at_least(Role::Operator);
    let managed = caller.user().map(|u| u.managed_groups()).unwrap_or_default();
    let groups = match q.group {
        Some(group) if operator || managed.contains(&group) => Some(vec![group]),
        Some(_) => {
            return Err(ApiError::forbidden("not_manager", "Only operators and the group's managers see its queue"));
        }
        None if operator => None,
        None if !managed.is_empty() => Some(managed),
        None => {
            return Err(ApiError::forbidden(
                "insufficient_role",
                "Insufficient permissions. Required role: operator (or a group's manager)",
            ));
        }
    };
    let filter = Filter { status: Some(TaskStatus::PendingApproval), ..Filter::default() };
    let Some(groups) = groups else {
        let (found, next) = tasks::list(&state.stores, &filter, true, limit, after.as_deref()).await?;
        return Ok(page::respond(queue_views(&state, found).await?, next.map(|n| page::encode(&n))));
    };
    let owners = identity::members_of(&state.stores, &groups).await?;
    let mut kept: Vec<TaskRecord> = Vec::new();
    let mut position = after;
    for _ in 0..FILTERED_PAGES {
        // Never more than still missing, so the position is right after the last one kept.
        let (found, next) = tasks::list(&state.stores, &filter, true, limit - kept.len(), position.as_deref()).await?;
        // A manager's queue holds what they may decide: not their own tasks.
        let decidable = |t: &&TaskRecord| operator || t.owner.id != caller.user_id();
        let members = found.iter().filter(|t| t.owner.id.is_some_and(|o| owners.contains(&o)));
        kept.extend(members.filter(decidable).cloned());
        position = next;
        if position.is_none() || kept.len() == limit {
            break;
        }
    }
    Ok(page::respond(queue_views(&state, kept).await?, position.map(|n| page::encode(&n))))
}

/// Waiting tasks in full, each saying which quota limit it exceeds, if any
/// (one batch read of the quotas involved).
async fn queue_views(state: &AppState, waiting: Vec<TaskRecord>) -> ApiResult<Vec<TaskView>> {
    let exceeded = shared::quotas::exceeded_for(&state.stores, &waiting).await?;
    Ok(waiting
        .iter()
        .map(|t| TaskView::full(t).with_quota_exceeded(exceeded.get(&t.id).map(ToString::to_string)))
        .collect())
}

/// `GET /api/tasks/pending-approval/count`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Count {
    count: u64,
}

/// `{count}`: a counter kept by the same transactions that change statuses, so
/// it always matches the list; read from its Redis read model in the caller's
/// round trip (one Redis round trip and no DynamoDB call, warm).
#[utoipa::path(get, path = "/api/tasks/pending-approval/count", tag = "tasks",
    responses((status = 200, description = "How many tasks wait for approval", body = Count), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn pending_count(State(state): State<AppState>, credentials: Deferred) -> ApiResult<Json<Count>> {
    let reads = tasks::pending_model(&state.stores).reads();
    let (_caller, answers) = credentials.require::<min::Operator>(&state, &reads).await?;
    Ok(Json(Count { count: tasks::pending_count(&state.stores, &answers).await? }))
}
