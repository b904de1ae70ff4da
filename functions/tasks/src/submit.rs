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
use shared::quotas::{self, GroupChoice, Usage};
use shared::tasks::{self, Actor, CreateError, NewTasks, Owner, TaskRecord};
use shared::tasks::{TaskStatus, TaskSubmission};
use shared::types::Role;
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

/// `POST /api/tasks`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Submitted {
    message: &'static str,
    task_ids: Vec<String>,
    status: TaskStatus,
}

/// How many times a submission re-reads the quotas after losing a race for them.
const TRIES: usize = 12;

/// A `user`'s tasks wait for approval; an operator's or admin's are approved by
/// themselves and go to the scheduler at once (the system admin's too, with no
/// approver recorded, as the original). Quotas (see docs/tasks.md): a task
/// over a hard limit of its group or owner is refused (422 naming the limit);
/// one that does not fit the remaining quota waits for approval, whoever
/// submits it; a member's task that fits, in a group with `auto_approve`, is
/// approved by the policy. 202 `{message, task_ids, status}`.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", request_body = shared::tasks::TaskSubmission,
    responses((status = 202, description = "Stored: pending approval, or assigning (an operator's, or approved by the group's policy)", body = Submitted),
        (status = 403, description = "Below user", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Invalid, over a hard quota limit (named), or the group is not the caller's or must be named", body = shared::http::openapi::ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Json(body): Json<TaskSubmission>,
) -> ApiResult<(StatusCode, axum::Json<Submitted>)> {
    let named_group = body.group_id;
    let specs = body.into_specs()?;
    let actor = caller.actor();
    let owner = Owner { id: actor.id, username: actor.name.clone() };
    let member_of: Vec<u64> = caller.user().map(|u| u.groups.iter().map(|g| g.id).collect()).unwrap_or_default();
    let group_id = quotas::choose_group(&state.stores, named_group, &member_of).await.map_err(|e| match e {
        GroupChoice::Store(e) => e.into(),
        other => ApiError::invalid("group_id", other.to_string()),
    })?;
    let asks: Vec<Usage> = specs.iter().map(quotas::ask_of).collect();
    let total = asks.iter().fold(Usage::default(), |sum, a| sum.plus(*a));
    let is_operator = caller.role().at_least(Role::Operator);
    let mut attempt = 0;
    let (created, status, by_policy) = loop {
        attempt += 1;
        let snapshot = quotas::Snapshot::read(&state.stores, group_id, owner.id).await?;
        if let Some(over) = asks.iter().find_map(|ask| snapshot.over_hard(ask)) {
            return Err(ApiError::invalid(
                over.limit_name(),
                format!("the task asks {}, more than the limit {} of {} allows", over.ask, over.limit, over.holder),
            ));
        }
        // After losing the race for the quota every time, the tasks wait.
        let fits = attempt < TRIES && snapshot.over_remaining(&total).is_none();
        let (status, approved, by_policy) = if fits && is_operator {
            let approver = match caller.identity {
                Identity::System => None,
                _ => Some(Actor { id: actor.id, username: actor.name.clone(), at: Timestamp::now() }),
            };
            (TaskStatus::Assigning, approver, false)
        } else if fits && snapshot.auto_approve() {
            let policy = Actor { id: None, username: quotas::POLICY_ACTOR.to_owned(), at: Timestamp::now() };
            (TaskStatus::Assigning, Some(policy), true)
        } else {
            (TaskStatus::PendingApproval, None, false)
        };
        let audit = |created: &[TaskRecord]| {
            let ids: Vec<String> = created.iter().map(|t| t.id.to_string()).collect();
            let target = format!("tasks:{}", ids.join(","));
            let submitted = client
                .event(caller.actor(), "task.submit", Outcome::Success)
                // Submitting approved (an operator's privilege) needs the operator still.
                .requiring(if status == TaskStatus::Assigning && !by_policy { Role::Operator } else { Role::User })
                .target(target.clone())
                .detail(format!(
                    "status {status}, type {}{}",
                    created.first().map_or("", |t| t.spec.task_type.as_str()),
                    group_id.map(|g| format!(", group {g}")).unwrap_or_default()
                ));
            let mut events = vec![submitted];
            if by_policy {
                let mut approved = client
                    .event((quotas::POLICY_ACTOR.to_owned(), None), "task.approve", Outcome::Success)
                    .target(target)
                    .detail(format!("within the quota of group {}", group_id.unwrap_or(0)));
                approved.reason = Some("auto_approve");
                events.push(approved);
            }
            events
        };
        let new = NewTasks { specs: specs.clone(), owner: owner.clone(), group_id, status, approved };
        match tasks::create(&state.stores, new, &snapshot, audit).await {
            Ok(created) => break (created, status, by_policy),
            Err(CreateError::QuotaChanged) => continue,
            Err(CreateError::Store(e)) => return Err(e.into()),
        }
    };
    if status == TaskStatus::Assigning
        && let Some(dispatcher) = &state.keys.dispatcher
    {
        for task in &created {
            dispatcher.announce(&state.stores, task).await?;
        }
    }
    let message = match status {
        TaskStatus::PendingApproval => "Task submitted for approval",
        _ if by_policy => "Task submitted and approved by the group's policy",
        _ => "Task submitted",
    };
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
