//! Reading tasks: the list (viewer+), one task (viewer+), and the approval
//! queue and its badge count (operator+).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::auth::Require;
use shared::auth::min;
use shared::auth::{Caller, Deferred};
use shared::http::extract::{Path, Query};
use shared::http::page;
use shared::tasks::{self, Filter, TaskRecord, TaskView};
use shared::tasks::{TaskStatus, TaskType};
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

/// Newest first. Everyone viewer+ sees every task; what only owners and
/// operators may read is redacted for the others.
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
    let views: Vec<TaskView> = found.iter().map(|t| TaskView::seen_by(t, caller.role(), caller.user_id())).collect();
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

/// Oldest first, in full (approvers must see `privileged` and `additional_mounts`).
#[utoipa::path(get, path = "/api/tasks/pending-approval", tag = "tasks", params(page::PageQuery),
    responses((status = 200, description = "Tasks waiting for approval, oldest first, in full", body = Vec<TaskView>), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn pending(
    State(state): State<AppState>,
    _caller: Require<min::Operator>,
    Query(q): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let after = page::decode_checked(q.cursor.as_deref(), tasks::is_list_position)?;
    let filter = Filter { status: Some(TaskStatus::PendingApproval), ..Filter::default() };
    let (found, next) = tasks::list(&state.stores, &filter, true, limit, after.as_deref()).await?;
    let views: Vec<TaskView> = found.iter().map(TaskView::full).collect();
    Ok(page::respond(views, next.map(|n| page::encode(&n))))
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
