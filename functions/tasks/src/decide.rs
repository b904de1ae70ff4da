//! Changing a task's status: approve and reject (operator+, or a manager of a
//! group the task's owner is in), cancel (owner or operator+, while it waits
//! for approval) and progress reports (operator+, e.g. a scheduler's token).
//! Each is a conditional transition: of racing requests exactly one wins; the
//! others get 409 with the current status.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::audit::Outcome;
use shared::auth::Authenticated;
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::{Path, Query};
use shared::identity;
use shared::tasks::TaskStatus;
use shared::tasks::{self, Actor, Change, TaskRecord, TaskView, TransitionError};
use shared::types::Role;
use shared::types::Timestamp;
use shared::vps;
use shared::{ApiError, ApiResult, AppState};

use crate::list::load;

/// Approval and cancellation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Decided {
    message: &'static str,
    task_id: String,
    task: TaskView,
}

/// A rejection, with its reason (null when none was given).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Rejected {
    message: &'static str,
    task_id: String,
    reason: Option<String>,
    task: TaskView,
}

/// A scheduler's progress report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Progressed {
    message: String,
    task: TaskView,
}

fn actor(caller: &Caller) -> Actor {
    let actor = caller.actor();
    Actor { id: actor.id, username: actor.name, at: Timestamp::now() }
}

fn refusal(err: TransitionError, expected: &str) -> ApiError {
    match err {
        TransitionError::NotFound => ApiError::not_found("Task not found"),
        TransitionError::WrongStatus(status) => {
            ApiError::conflict("wrong_status", format!("Task is not {expected} (status: {status})"))
        }
        TransitionError::QuotaExceeded(over) => ApiError::conflict(
            "quota_exceeded",
            format!("Approving it would exceed {over}; it waits until usage frees"),
        ),
        TransitionError::Store(e) => e.into(),
    }
}

/// Whether `caller` may approve or reject `task`: operators may (the handler
/// adds its own rules), and so may a `user`-role manager of a group the
/// task's owner is in, for that task only — `Some(group)`: they act as its
/// manager, which the write re-checks. Anyone else: 403.
async fn decider(state: &AppState, caller: &Caller, task: &TaskRecord) -> ApiResult<Option<u64>> {
    if caller.role().at_least(Role::Operator) {
        return Ok(None);
    }
    let group = match (caller.user(), task.owner.id) {
        (Some(user), Some(owner)) if owner != user.id => identity::managed_group_of(&state.stores, user, owner).await?,
        _ => None,
    };
    match group {
        Some(group) => Ok(Some(group)),
        None => Err(ApiError::forbidden(
            "insufficient_role",
            "Insufficient permissions. Required role: operator (or a manager of the owner's group)",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn change(
    state: &AppState,
    caller: &Caller,
    client: &ClientInfo,
    task: &TaskRecord,
    from: TaskStatus,
    change: Change,
    action: &'static str,
    managing: Option<u64>,
) -> Result<TaskRecord, TransitionError> {
    let own_task = task.owner.id.is_some() && task.owner.id == caller.user_id();
    // Deciding on another's task is an operator's right, or their group
    // manager's; either is re-checked at the write.
    let must_hold = if own_task || managing.is_some() { Role::Viewer } else { Role::Operator };
    let event = client.event(caller.actor(), action, Outcome::Success).requiring(must_hold);
    let event = match (managing, task.owner.id) {
        (Some(group), Some(owner)) => event.managing_member(group, owner),
        (Some(group), None) => event.managing(group),
        (None, _) => event,
    };
    let event = event.target(format!("task:{}", task.id)).detail(format!(
        "{} → {}",
        task.status,
        match &change {
            Change::Approve(_) => TaskStatus::Assigning,
            Change::Reject(..) => TaskStatus::Rejected,
            Change::Cancel(_) => TaskStatus::Cancelled,
            Change::Progress(s) => *s,
        }
    ));
    let changed = tasks::transition(&state.stores, task.id, from, change, &event).await?;
    // The change has committed: what follows cannot undo it, so it cannot fail the request.
    vps::release_if_ended(&state.stores, &changed).await;
    Ok(changed)
}

/// Announces a task that just became `assigning`.
async fn announce(state: &AppState, task: &TaskRecord) -> ApiResult<()> {
    if let Some(dispatcher) = &state.keys.dispatcher {
        dispatcher.announce(&state.stores, task).await?;
    }
    Ok(())
}

/// An operator may not approve their own task; an admin may.
#[utoipa::path(post, path = "/api/approve/{id}", tag = "tasks", params(("id" = String, Path, description = "Task id (a 64-bit number, as a string)")),
    responses((status = 200, description = "Approved and dispatched", body = Decided),
        (status = 403, description = "Below operator and no manager of the owner's group, or an operator's own task", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "The task is not pending approval, or approving it would exceed a quota (`quota_exceeded`, naming the limit)", body = shared::http::openapi::ErrorBody)))]
pub async fn approve(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Decided>> {
    let task = load(&state, &caller, &id).await?;
    let managing = decider(&state, &caller, &task).await?;
    if !caller.role().at_least(Role::Admin) && task.owner.id.is_some() && task.owner.id == caller.user_id() {
        return Err(ApiError::forbidden(
            "own_task",
            "Operators cannot approve their own tasks; ask another operator or an admin",
        ));
    }
    let approved = change(
        &state,
        &caller,
        &client,
        &task,
        TaskStatus::PendingApproval,
        Change::Approve(actor(&caller)),
        "task.approve",
        managing,
    )
    .await
    .map_err(|e| refusal(e, "pending approval"))?;
    announce(&state, &approved).await?;
    Ok(Json(Decided {
        message: "Task approved and dispatched",
        task_id: approved.id.to_string(),
        task: TaskView::full(&approved),
    }))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReasonQuery {
    /// Compat: the reason, when the body has none.
    #[param(max_length = 1000)]
    reason: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
struct ReasonBody {
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

/// The body's reason: none for an empty body or `null`; 400 for text that is
/// not JSON, 422 for JSON of another shape (as the shared JSON extractor
/// answers; the body is optional here, so that extractor cannot be used).
fn reason_from_body(body: &[u8]) -> ApiResult<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("invalid_json", "Request body is not valid JSON"))?;
    let parsed: Option<ReasonBody> = serde_json::from_value(value)
        .map_err(|_| ApiError::invalid("reason", "expected {\"reason\": \"...\"} or no body"))?;
    Ok(parsed.and_then(|b| b.reason))
}

/// `{reason}` in the body, or the original dashboard's `?reason=`.
#[utoipa::path(post, path = "/api/reject/{id}", tag = "tasks", params(("id" = String, Path, description = "Task id (a 64-bit number, as a string)"), ReasonQuery),
    request_body(content = ReasonBody, description = "Optional; `?reason=` works too"),
    responses((status = 200, description = "Rejected", body = Rejected), (status = 403, description = "Below operator and no manager of the owner's group", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "The task is not pending approval", body = shared::http::openapi::ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Path(id): Path<String>,
    Query(query): Query<ReasonQuery>,
    body: Bytes,
) -> ApiResult<Json<Rejected>> {
    let from_body = reason_from_body(&body)?;
    let reason = from_body.or(query.reason).map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(ApiError::invalid("reason", "must be at most 1000 characters long"));
    }
    let task = load(&state, &caller, &id).await?;
    let managing = decider(&state, &caller, &task).await?;
    let rejected = change(
        &state,
        &caller,
        &client,
        &task,
        TaskStatus::PendingApproval,
        Change::Reject(actor(&caller), reason.clone()),
        "task.reject",
        managing,
    )
    .await
    .map_err(|e| refusal(e, "pending approval"))?;
    Ok(Json(Rejected {
        message: "Task rejected",
        task_id: rejected.id.to_string(),
        reason,
        task: TaskView::full(&rejected),
    }))
}

/// The owner, or an operator, withdraws a task that waits for approval.
#[utoipa::path(post, path = "/api/tasks/{id}/cancel", tag = "tasks", params(("id" = String, Path, description = "Task id (a 64-bit number, as a string)")),
    responses((status = 200, description = "Cancelled", body = Decided),
        (status = 403, description = "Neither the owner nor an operator", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "The task is not pending approval", body = shared::http::openapi::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Decided>> {
    let task = load(&state, &caller, &id).await?;
    let is_owner = task.owner.id.is_some() && task.owner.id == caller.user_id();
    if !is_owner && !caller.role().at_least(Role::Operator) {
        if caller.role().at_least(Role::Viewer) {
            return Err(ApiError::forbidden("not_owner", "Only the task's owner or an operator can cancel it"));
        }
        return Err(ApiError::not_found("Task not found"));
    }
    let cancelled = change(
        &state,
        &caller,
        &client,
        &task,
        TaskStatus::PendingApproval,
        Change::Cancel(actor(&caller)),
        "task.cancel",
        None,
    )
    .await
    .map_err(|e| refusal(e, "pending approval"))?;
    Ok(Json(Decided { message: "Task cancelled", task_id: cancelled.id.to_string(), task: TaskView::full(&cancelled) }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = StatusReport)]
pub struct StatusBody {
    #[schema(value_type = shared::tasks::TaskStatus)]
    status: String,
}

/// A scheduler reports progress along the allowed transitions only.
#[utoipa::path(post, path = "/api/tasks/{id}/status", tag = "tasks", params(("id" = String, Path, description = "Task id (a 64-bit number, as a string)")), request_body = StatusBody,
    responses((status = 200, description = "The task in its new status", body = Progressed), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "Not an allowed transition from the current status", body = shared::http::openapi::ErrorBody)))]
pub async fn report_status(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Operator>,
    client: ClientInfo,
    Path(id): Path<String>,
    shared::http::extract::Json(body): shared::http::extract::Json<StatusBody>,
) -> ApiResult<Json<Progressed>> {
    let to: TaskStatus =
        body.status.parse().map_err(|()| ApiError::invalid("status", format!("unknown status {:?}", body.status)))?;
    let task = load(&state, &caller, &id).await?;
    if !task.status.next_by_scheduler().contains(&to) {
        return Err(ApiError::conflict("invalid_transition", format!("A task cannot go from {} to {to}", task.status)));
    }
    let updated = change(&state, &caller, &client, &task, task.status, Change::Progress(to), "task.status", None)
        .await
        .map_err(|e| refusal(e, &format!("{} any more", task.status)))?;
    Ok(Json(Progressed { message: format!("Task is now {to}"), task: TaskView::full(&updated) }))
}
