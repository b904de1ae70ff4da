//! Group managers (admin): `PUT`/`DELETE /api/auth/groups/{id}/managers/{user_id}`.
//! A manager may add and remove the group's members at or below `user`,
//! invite into it, see and decide its members' tasks (see
//! docs/groups-invitations.md); the flag is on the membership, so making a
//! non-member a manager makes them a member too.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups::Made;
use shared::http::extract::Path;
use shared::http::openapi::Message;
use shared::identity;
use shared::{ApiError, ApiResult, AppState};

use crate::crud::refusal;

/// `PUT /api/auth/groups/{id}/managers/{user_id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ManagerMade {
    message: String,
    /// True when the user was not a member and has been made one too.
    joined: bool,
}

/// Idempotent; a user who is not a member becomes one (in the same write).
#[utoipa::path(put, path = "/api/auth/groups/{id}/managers/{user_id}", tag = "groups", params(("id" = u64, Path, description = "Group id"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "A manager of the group (and a member)", body = ManagerMade), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such group or user", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path((id, user_id)): Path<(u64, u64)>,
) -> ApiResult<Json<ManagerMade>> {
    let event = client
        .event(caller.actor(), "group.manager_add", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(format!("user:{user_id}"));
    let made = identity::make_manager(&state.stores, id, user_id, &event).await.map_err(refusal)?;
    let joined = made == Made::MemberAndManager;
    let message = if joined { "Made a member and a manager" } else { "Manager of the group" };
    Ok(Json(ManagerMade { message: message.into(), joined }))
}

/// The user stays a member; their manager rights end at once, in-flight writes included.
#[utoipa::path(delete, path = "/api/auth/groups/{id}/managers/{user_id}", tag = "groups", params(("id" = u64, Path, description = "Group id"), ("user_id" = u64, Path, description = "User id")),
    responses((status = 200, description = "No longer a manager (still a member)", body = shared::http::openapi::Message), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "Not a manager of this group", body = shared::http::openapi::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path((id, user_id)): Path<(u64, u64)>,
) -> ApiResult<Json<Message>> {
    let event = client
        .event(caller.actor(), "group.manager_remove", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(format!("user:{user_id}"));
    if !identity::unmake_manager(&state.stores, id, user_id, &event).await.map_err(refusal)? {
        return Err(ApiError::not_found("That user is not a manager of this group"));
    }
    Ok(Json(Message { message: "No longer a manager".into() }))
}
