//! Assigning a VPS to users and groups (operator+).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::audit::{AuditEvent, Outcome};
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups;
use shared::http::extract::Path;
use shared::http::openapi::Message;
use shared::users;
use shared::vps::{self, Assignee, Assignments, VpsView};
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged, expecting = "expected {\"user_ids\": [...], \"group_ids\": [...]} or an array of user ids")]
pub enum AssignBody {
    /// The original's form: a bare array of user ids.
    Users(Vec<u64>),
    Both {
        #[serde(default)]
        user_ids: Vec<u64>,
        #[serde(default)]
        group_ids: Vec<u64>,
    },
}

/// `POST /api/vps/{id}/assign`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Assigned {
    message: String,
    task_id: String,
    assigned_users: Vec<u64>,
    assigned_groups: Vec<u64>,
}

pub fn parse_vps_id(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| ApiError::not_found("VPS not found"))
}

/// The VPS `raw_id`, if the caller's token (if any) may act on it.
pub async fn load(state: &AppState, caller: &Caller, raw_id: &str) -> ApiResult<VpsView> {
    let id = parse_vps_id(raw_id)?;
    caller.within_resources(id, true)?;
    vps::read(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("VPS not found"))
}

fn event(caller: &Caller, client: &ClientInfo, action: &'static str, vps_id: u64, detail: String) -> AuditEvent {
    client.event(caller.actor(), action, Outcome::Success).target(format!("vps:{vps_id}")).detail(detail)
}

/// The first of `wanted` not among `found`.
fn first_missing(wanted: &[u64], found: &[u64]) -> Option<u64> {
    wanted.iter().copied().find(|id| !found.contains(id))
}

/// Every id is checked before anything is written (404 naming the first
/// unknown one); duplicates and existing assignments are ignored.
#[utoipa::path(post, path = "/api/vps/{id}/assign", tag = "vps", params(("id" = String, Path, description = "VPS (task) id, a 64-bit number as a string")), request_body = AssignBody,
    responses((status = 200, description = "Assigned", body = Assigned), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Operator>,
    client: ClientInfo,
    Path(id): Path<String>,
    shared::http::extract::Json(body): shared::http::extract::Json<AssignBody>,
) -> ApiResult<Json<Assigned>> {
    let (user_ids, group_ids) = match body {
        AssignBody::Users(ids) => (ids, Vec::new()),
        AssignBody::Both { user_ids, group_ids } => (user_ids, group_ids),
    };
    if user_ids.len() + group_ids.len() > 200 {
        return Err(ApiError::invalid("body", "at most 200 assignees at once"));
    }
    let view = load(&state, &caller, &id).await?;
    // One batch read for the users, one for the groups.
    if !user_ids.is_empty() {
        let found: Vec<u64> = users::get_many(&state.stores, &user_ids).await?.iter().map(|u| u.id).collect();
        if let Some(uid) = first_missing(&user_ids, &found) {
            return Err(ApiError::not_found(format!("User {uid} not found")));
        }
    }
    if !group_ids.is_empty() {
        let found: Vec<u64> = groups::refs(&state.stores, &group_ids).await?.iter().map(|g| g.id).collect();
        if let Some(gid) = first_missing(&group_ids, &found) {
            return Err(ApiError::not_found(format!("Group {gid} not found")));
        }
    }
    let wanted: Vec<Assignee> =
        user_ids.iter().map(|u| Assignee::User(*u)).chain(group_ids.iter().map(|g| Assignee::Group(*g))).collect();
    let describe = |who: &[Assignee]| event(&caller, &client, "vps.assign", view.task.id, format!("{who:?}"));
    vps::assign(&state.stores, &view, &wanted, describe).await?;
    let total = user_ids.len() + group_ids.len();
    Ok(Json(Assigned {
        message: format!("VPS {} assigned to {total} assignee(s).", view.task.id),
        task_id: view.task.id.to_string(),
        assigned_users: user_ids,
        assigned_groups: group_ids,
    }))
}

async fn unassign(
    state: &AppState,
    caller: &Caller,
    client: &ClientInfo,
    id: &str,
    who: Assignee,
) -> ApiResult<Json<Message>> {
    let view = load(state, caller, id).await?;
    if !view.assignments.iter().any(|a| a.assignee == who) {
        return Err(ApiError::not_found("That assignee is not assigned to this VPS"));
    }
    let event = event(caller, client, "vps.unassign", view.task.id, format!("{who:?}"));
    vps::unassign_one(&state.stores, &view, who, &event).await?;
    Ok(Json(Message { message: format!("Unassigned from VPS {}.", view.task.id) }))
}

#[utoipa::path(delete, path = "/api/vps/{id}/assign/{user_id}", tag = "vps",
    params(("id" = String, Path, description = "VPS (task) id, a 64-bit number as a string"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Unassigned", body = Message), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn unassign_user(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Operator>,
    client: ClientInfo,
    Path((id, user_id)): Path<(String, u64)>,
) -> ApiResult<Json<Message>> {
    unassign(&state, &caller, &client, &id, Assignee::User(user_id)).await
}

#[utoipa::path(delete, path = "/api/vps/{id}/assign/group/{group_id}", tag = "vps",
    params(("id" = String, Path, description = "VPS (task) id, a 64-bit number as a string"), ("group_id" = u64, Path, description = "Group id")),
    responses((status = 200, description = "Unassigned", body = Message), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn unassign_group(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Operator>,
    client: ClientInfo,
    Path((id, group_id)): Path<(String, u64)>,
) -> ApiResult<Json<Message>> {
    unassign(&state, &caller, &client, &id, Assignee::Group(group_id)).await
}

#[utoipa::path(get, path = "/api/vps/{id}/assignments", tag = "vps", params(("id" = String, Path, description = "VPS (task) id, a 64-bit number as a string")),
    responses((status = 200, description = "Who is assigned", body = Assignments), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn assignments(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Operator>,
    Path(id): Path<String>,
) -> ApiResult<Json<Assignments>> {
    let view = load(&state, &caller, &id).await?;
    Ok(Json(Assignments::read(&state.stores, &view).await?))
}
