//! A group's quota: `PUT /api/auth/groups/{id}/quota` (admin) replaces its
//! limits; `GET /api/auth/groups/{id}/usage` shows limits and usage to the
//! group's members, operators and admins. The model: docs/tasks.md.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups;
use shared::http::extract::Path;
use shared::quotas::{self, Holder, Limits, Quota, Usage};
use shared::types::Role;
use shared::{ApiError, ApiResult, AppState};

/// A group's limits (absent = unlimited) and what its active tasks use.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupQuota {
    group_id: u64,
    group_name: String,
    limits: Limits,
    usage: Usage,
}

fn view(group: groups::Group, quota: Quota) -> GroupQuota {
    GroupQuota { group_id: group.id, group_name: group.name, limits: quota.limits, usage: quota.usage }
}

/// Replaces the group's limits: each field absent or null is unlimited.
#[utoipa::path(put, path = "/api/auth/groups/{id}/quota", tag = "groups", params(("id" = u64, Path, description = "Group id")),
    request_body = Limits,
    responses((status = 200, description = "The limits now, with the usage", body = GroupQuota),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such group", body = shared::http::openapi::ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(limits): shared::http::extract::Json<Limits>,
) -> ApiResult<Json<GroupQuota>> {
    limits.check()?;
    let group = groups::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Group not found"))?;
    let event = client
        .event(caller.actor(), "group.quota_set", Outcome::Success)
        .target(format!("group:{id}"))
        .detail(serde_json::to_string(&limits).unwrap_or_default());
    let quota = quotas::set_limits(&state.stores, Holder::Group(id), &limits, &event).await?;
    Ok(Json(view(group, quota)))
}

/// The group's limits and usage: for its members, operators and admins.
#[utoipa::path(get, path = "/api/auth/groups/{id}/usage", tag = "groups", params(("id" = u64, Path, description = "Group id")),
    responses((status = 200, description = "Limits (absent = unlimited) and usage", body = GroupQuota),
        (status = 403, description = "Not a member of the group, nor an operator", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such group", body = shared::http::openapi::ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Viewer>,
    Path(id): Path<u64>,
) -> ApiResult<Json<GroupQuota>> {
    let member = caller.user().is_some_and(|u| u.groups.iter().any(|g| g.id == id));
    if !member && !caller.role().at_least(Role::Operator) {
        return Err(ApiError::forbidden("not_member", "Only the group's members and operators see its usage"));
    }
    let group = groups::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Group not found"))?;
    let quota = quotas::get(&state.stores, Holder::Group(id)).await?;
    Ok(Json(view(group, quota)))
}
