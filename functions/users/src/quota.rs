//! `GET`/`PUT /api/auth/users/{id}/quota` (admin): the user's own limits, each
//! of which overrides the same field of their groups' quotas (docs/tasks.md),
//! and the user's usage.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Path;
use shared::quotas::{self, Holder, Limits, Usage};
use shared::{ApiResult, AppState};

use crate::entry::find_user;

/// A user's own limits (absent = the group's applies) and their usage.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserQuota {
    user_id: u64,
    limits: Limits,
    usage: Usage,
}

/// The user's own limits and usage.
#[utoipa::path(get, path = "/api/auth/users/{id}/quota", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "The user's limits (absent = the group's applies) and usage", body = UserQuota),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such user", body = shared::http::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Path(id): Path<u64>,
) -> ApiResult<Json<UserQuota>> {
    find_user(&state, id).await?;
    let quota = quotas::get(&state.stores, Holder::User(id)).await?;
    Ok(Json(UserQuota { user_id: id, limits: quota.limits, usage: quota.usage }))
}

/// Replaces the user's limits: each field set overrides the group's; absent
/// or null leaves the group's limit in force.
#[utoipa::path(put, path = "/api/auth/users/{id}/quota", tag = "users", params(("id" = u64, Path, description = "User id")),
    request_body = Limits,
    responses((status = 200, description = "The limits now, with the user's usage", body = UserQuota),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such user", body = shared::http::openapi::ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(limits): shared::http::extract::Json<Limits>,
) -> ApiResult<Json<UserQuota>> {
    limits.check()?;
    let user = find_user(&state, id).await?;
    let event = client
        .event(caller.actor(), "user.quota_set", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username))
        .detail(serde_json::to_string(&limits).unwrap_or_default());
    let quota = quotas::set_limits(&state.stores, Holder::User(id), &limits, &event).await?;
    Ok(Json(UserQuota { user_id: id, limits: quota.limits, usage: quota.usage }))
}
