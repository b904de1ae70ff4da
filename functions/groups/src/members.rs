//! Group membership: list, add (idempotent), remove. A change reaches the
//! member's cached state at once, so access through the group follows on the
//! next request everywhere. Admins change any membership; a manager of the
//! group (see managers.rs) adds and removes its members at or below `user`,
//! other than managers, and the write re-checks their manager flag.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::{AuditEvent, Outcome};
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups;
use shared::http::extract::Path;
use shared::http::openapi::Message;
use shared::identity;
use shared::types::Role;
use shared::users;
use shared::{ApiError, ApiResult, AppState};

use crate::crud::refusal;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Member {
    id: u64,
    username: String,
    display_name: String,
    role: Role,
    is_active: bool,
    /// Whether they manage the group.
    manager: bool,
}

/// Whether the caller manages group `id` (from their cached entry).
pub fn manages(caller: &Caller, id: u64) -> bool {
    caller.user().is_some_and(|u| u.manages(id))
}

/// Operators and admins read every group; a manager reads the groups they manage.
pub fn may_read(caller: &Caller, id: u64) -> ApiResult<()> {
    if caller.role().at_least(Role::Operator) || manages(caller, id) {
        return Ok(());
    }
    Err(ApiError::forbidden("not_manager", "Only operators and the group's managers can see it"))
}

#[utoipa::path(get, path = "/api/auth/groups/{id}/members", tag = "groups", params(("id" = u64, Path, description = "Group id")),
    responses((status = 200, description = "The members, with who manages", body = Vec<Member>), (status = 403, description = "Below operator and no manager of the group", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Vec<Member>>> {
    may_read(&caller, id)?;
    groups::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Group not found"))?;
    let mut members = Vec::new();
    for membership in groups::memberships(&state.stores, id).await? {
        if let Some(u) = users::get(&state.stores, membership.user_id).await? {
            members.push(Member {
                id: u.id,
                username: u.username,
                display_name: u.display_name,
                role: u.role,
                is_active: u.is_active,
                manager: membership.manager,
            });
        }
    }
    Ok(Json(members))
}

/// The event of a membership change, made as a manager (whose flag the write
/// re-checks) unless the caller is an admin. A manager may change only
/// members at or below `user` who are not managers of the group.
async fn membership_event(
    state: &AppState,
    caller: &Caller,
    event: AuditEvent,
    id: u64,
    user_id: u64,
) -> ApiResult<AuditEvent> {
    if caller.role().at_least(Role::Admin) {
        return Ok(event.requiring(Role::Admin));
    }
    if !manages(caller, id) {
        return Err(ApiError::forbidden("not_manager", "Only admins and the group's managers can change its members"));
    }
    let target = users::get(&state.stores, user_id).await?.ok_or_else(|| ApiError::not_found("User not found"))?;
    if target.role.at_least(Role::Operator) {
        return Err(ApiError::forbidden(
            "target_role",
            "A group's managers change only members at or below the user role; ask an admin",
        ));
    }
    let is_manager = groups::memberships(&state.stores, id).await?.iter().any(|m| m.user_id == user_id && m.manager);
    if is_manager {
        return Err(ApiError::forbidden("target_is_manager", "Only admins can remove a group's managers"));
    }
    Ok(event.managing(id))
}

/// `PUT /api/auth/groups/{id}/members/{user_id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberAdded {
    message: String,
    /// False when the user was a member already.
    added: bool,
}

#[utoipa::path(put, path = "/api/auth/groups/{id}/members/{user_id}", tag = "groups", params(("id" = u64, Path, description = "Group id"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Added (or already a member)", body = MemberAdded), (status = 403, description = "Neither an admin nor the group's manager; a manager adding an operator or admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Path((id, user_id)): Path<(u64, u64)>,
) -> ApiResult<Json<MemberAdded>> {
    let event = client
        .event(caller.actor(), "group.member_add", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(format!("user:{user_id}"));
    let event = membership_event(&state, &caller, event, id, user_id).await?;
    let added = identity::join_group(&state.stores, id, user_id, &event).await.map_err(refusal)?;
    let message = if added { "Member added" } else { "Already a member" };
    Ok(Json(MemberAdded { message: message.into(), added }))
}

#[utoipa::path(delete, path = "/api/auth/groups/{id}/members/{user_id}", tag = "groups", params(("id" = u64, Path, description = "Group id"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Removed", body = shared::http::openapi::Message), (status = 403, description = "Neither an admin nor the group's manager; a manager removing an operator, admin or manager", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Path((id, user_id)): Path<(u64, u64)>,
) -> ApiResult<Json<Message>> {
    let event = client
        .event(caller.actor(), "group.member_remove", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(format!("user:{user_id}"));
    let event = membership_event(&state, &caller, event, id, user_id).await?;
    let removed = identity::leave_group(&state.stores, id, user_id, &event).await.map_err(refusal)?;
    if !removed {
        return Err(ApiError::not_found("That user is not a member of this group"));
    }
    Ok(Json(Message { message: "Member removed".into() }))
}
