//! Group create, read, update, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups::{self, Group, GroupError};
use shared::http::extract::{Path, Query};
use shared::http::page;
use shared::identity;
use shared::users::parse_label;
use shared::{ApiError, ApiResult, AppState};

/// Maps a store refusal to the API's answer.
pub fn refusal(err: GroupError) -> ApiError {
    match err {
        GroupError::NotFound => ApiError::not_found("Group not found"),
        GroupError::UserNotFound => ApiError::not_found("User not found"),
        GroupError::NameTaken => ApiError::conflict("group_name_taken", "A group with that name exists"),
        GroupError::Contended => ApiError::conflict("concurrent_update", "The group changed meanwhile; try again"),
        GroupError::Store(e) => e.into(),
    }
}

fn parse_description(raw: &str) -> ApiResult<String> {
    if raw.chars().count() > 1000 {
        return Err(ApiError::invalid("description", "must be at most 1000 characters long"));
    }
    Ok(raw.trim().to_owned())
}

#[utoipa::path(get, path = "/api/auth/groups", tag = "groups", params(page::PageQuery),
    responses((status = 200, description = "A page of groups", body = Vec<shared::groups::Group>), (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Require<min::Operator>,
    Query(q): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let after = page::decode_id('g', q.cursor.as_deref())?;
    let (found, next) = groups::list(&state.stores, limit, after).await?;
    Ok(page::respond(found, next.map(|id| page::encode_id('g', id))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewGroup)]
pub struct CreateBody {
    #[schema(schema_with = shared::http::openapi::name)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    description: String,
}

#[utoipa::path(post, path = "/api/auth/groups", tag = "groups", request_body = CreateBody,
    responses((status = 201, description = "Created", body = shared::groups::Group), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A group of that name exists", body = shared::http::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<CreateBody>,
) -> ApiResult<Response> {
    let name = parse_label("name", &body.name, 100)?;
    let description = parse_description(&body.description)?;
    let audit = |g: &Group| {
        client.event(caller.actor(), "group.create", Outcome::Success).target(format!("group:{} {}", g.id, g.name))
    };
    let group = groups::create(&state.stores, &name, &description, audit).await.map_err(refusal)?;
    Ok((StatusCode::CREATED, axum::Json(group)).into_response())
}

/// `GET /api/auth/groups/{id}`: the group and who manages it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    group: Group,
    /// The user ids of the group's managers.
    manager_ids: Vec<u64>,
}

#[utoipa::path(get, path = "/api/auth/groups/{id}", tag = "groups", params(("id" = u64, Path, description = "Group id")),
    responses((status = 200, description = "The group and its managers", body = GroupDetail), (status = 403, description = "Below operator and no manager of the group", body = shared::http::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    Path(id): Path<u64>,
) -> ApiResult<Json<GroupDetail>> {
    crate::members::may_read(&caller, id)?;
    let group = groups::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Group not found"))?;
    let memberships = groups::memberships(&state.stores, id).await?;
    let manager_ids = memberships.iter().filter(|m| m.manager).map(|m| m.user_id).collect();
    Ok(Json(GroupDetail { group, manager_ids }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = GroupChange)]
pub struct UpdateBody {
    #[schema(schema_with = shared::http::openapi::optional_name)]
    name: Option<String>,
    #[schema(max_length = 1000)]
    description: Option<String>,
}

/// A rename reaches the members' cached group names at once (see
/// `shared::identity::change_group`).
#[utoipa::path(patch, path = "/api/auth/groups/{id}", tag = "groups", params(("id" = u64, Path, description = "Group id")), request_body = UpdateBody,
    responses((status = 200, description = "The changed group", body = shared::groups::Group), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A group of that name exists, or a concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(body): shared::http::extract::Json<UpdateBody>,
) -> ApiResult<Json<Group>> {
    let name = body.name.as_deref().map(|n| parse_label("name", n, 100)).transpose()?;
    let description = body.description.as_deref().map(parse_description).transpose()?;
    let event = client.event(caller.actor(), "group.update", Outcome::Success).target(format!("group:{id}"));
    let event = match &name {
        Some(n) => event.detail(format!("name → {n}")),
        None => event.detail("description changed"),
    };
    let group = identity::change_group(&state.stores, id, name.as_deref(), description.as_deref(), &event)
        .await
        .map_err(refusal)?;
    Ok(Json(group))
}

/// `DELETE /api/auth/groups/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupDeleted {
    message: String,
    #[schema(value_type = u64)]
    members_removed: usize,
}

/// Removes the group's VPS assignments and memberships, then the group.
#[utoipa::path(delete, path = "/api/auth/groups/{id}", tag = "groups", params(("id" = u64, Path, description = "Group id")),
    responses((status = 200, description = "Deleted with its memberships and VPS assignments", body = GroupDeleted), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<GroupDeleted>> {
    let group = groups::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Group not found"))?;
    let event = client
        .event(caller.actor(), "group.delete", Outcome::Success)
        .target(format!("group:{} {}", group.id, group.name))
        .detail(format!("{} members", group.member_count));
    let removed = identity::delete_group(&state.stores, id, &event).await.map_err(refusal)?;
    Ok(Json(GroupDeleted { message: format!("Group {} deleted", group.name), members_removed: removed }))
}
