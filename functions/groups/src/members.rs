//! Group membership: list, add (idempotent), remove. A change reaches the
//! member's cached state at once, so access through the group follows on the
//! next request everywhere.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::Outcome;
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
}

#[utoipa::path(get, path = "/api/auth/groups/{id}/members", tag = "groups", params(("id" = u64, Path, description = "Group id")),
    responses((status = 200, description = "The members", body = Vec<Member>), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Require<min::Operator>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Vec<Member>>> {
    groups::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Group not found"))?;
    let mut members = Vec::new();
    for user_id in groups::member_ids(&state.stores, id).await? {
        if let Some(u) = users::get(&state.stores, user_id).await? {
            members.push(Member {
                id: u.id,
                username: u.username,
                display_name: u.display_name,
                role: u.role,
                is_active: u.is_active,
            });
        }
    }
    Ok(Json(members))
}

/// `PUT /api/auth/groups/{id}/members/{user_id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberAdded {
    message: String,
    /// False when the user was a member already.
    added: bool,
}

#[utoipa::path(put, path = "/api/auth/groups/{id}/members/{user_id}", tag = "groups", params(("id" = u64, Path, description = "Group id"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Added (or already a member)", body = MemberAdded), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path((id, user_id)): Path<(u64, u64)>,
) -> ApiResult<Json<MemberAdded>> {
    let event = client
        .event(caller.actor(), "group.member_add", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(format!("user:{user_id}"));
    let added = identity::join_group(&state.stores, id, user_id, &event).await.map_err(refusal)?;
    let message = if added { "Member added" } else { "Already a member" };
    Ok(Json(MemberAdded { message: message.into(), added }))
}

#[utoipa::path(delete, path = "/api/auth/groups/{id}/members/{user_id}", tag = "groups", params(("id" = u64, Path, description = "Group id"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Removed", body = shared::http::openapi::Message), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path((id, user_id)): Path<(u64, u64)>,
) -> ApiResult<Json<Message>> {
    let event = client
        .event(caller.actor(), "group.member_remove", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(format!("user:{user_id}"));
    let removed = identity::leave_group(&state.stores, id, user_id, &event).await.map_err(refusal)?;
    if !removed {
        return Err(ApiError::not_found("That user is not a member of this group"));
    }
    Ok(Json(Message { message: "Member removed".into() }))
}
