//! `POST /api/tasks` and the original's `POST /api/submit` (user+).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Identity;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Json;
use shared::tasks::{self, Actor, Owner, TaskRecord};
use shared::tasks::{TaskStatus, TaskSubmission};
use shared::types::Role;
use shared::types::Timestamp;
use shared::{ApiResult, AppState};

/// `POST /api/tasks`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Submitted {
    message: &'static str,
    task_ids: Vec<String>,
    status: TaskStatus,
}

/// A `user`'s tasks wait for approval; an operator's or admin's are approved by
/// themselves and go to the scheduler at once (the system admin's too, with no
/// approver recorded, as the original). 202 `{message, task_ids}`.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", request_body = shared::tasks::TaskSubmission,
    responses((status = 202, description = "Stored: pending approval for a user, assigning for an operator", body = Submitted),
        (status = 403, description = "Below user", body = shared::http::openapi::ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Json(body): Json<TaskSubmission>,
) -> ApiResult<(StatusCode, axum::Json<Submitted>)> {
    let specs = body.into_specs()?;
    let actor = caller.actor();
    let owner = Owner { id: actor.id, username: actor.name.clone() };
    let (status, approved) = if caller.role().at_least(Role::Operator) {
        let approver = match caller.identity {
            Identity::System => None,
            _ => Some(Actor { id: actor.id, username: actor.name, at: Timestamp::now() }),
        };
        (TaskStatus::Assigning, approver)
    } else {
        (TaskStatus::PendingApproval, None)
    };
    let audit = |created: &[TaskRecord]| {
        let ids: Vec<String> = created.iter().map(|t| t.id.to_string()).collect();
        client
            .event(caller.actor(), "task.submit", Outcome::Success)
            // Submitting approved (an operator's privilege) needs the operator still.
            .requiring(if status == TaskStatus::Assigning { Role::Operator } else { Role::User })
            .target(format!("tasks:{}", ids.join(",")))
            .detail(format!("status {status}, type {}", created.first().map_or("", |t| t.spec.task_type.as_str())))
    };
    let created = tasks::create(&state.stores, specs, owner, status, approved, audit).await?;
    if status == TaskStatus::Assigning
        && let Some(dispatcher) = &state.keys.dispatcher
    {
        for task in &created {
            dispatcher.announce(&state.stores, task).await?;
        }
    }
    let message = if status == TaskStatus::PendingApproval { "Task submitted for approval" } else { "Task submitted" };
    let task_ids = created.iter().map(|t| t.id.to_string()).collect();
    Ok((StatusCode::ACCEPTED, axum::Json(Submitted { message, task_ids, status })))
}

/// The original's `POST /api/submit`: the same as [`submit`].
#[utoipa::path(post, path = "/api/submit", tag = "tasks", request_body = shared::tasks::TaskSubmission,
    responses((status = 202, description = "Stored: pending approval for a user, assigning for an operator", body = Submitted),
        (status = 403, description = "Below user", body = shared::http::openapi::ErrorBody)))]
pub async fn submit_compat(
    state: State<AppState>,
    caller: Require<min::User>,
    client: ClientInfo,
    body: Json<TaskSubmission>,
) -> ApiResult<(StatusCode, axum::Json<Submitted>)> {
    submit(state, caller, client, body).await
}
