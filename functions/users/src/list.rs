//! `GET /api/auth/users` (operator+) and `GET /api/auth/users/{id}` (operator+ or self).

use crate::entry::{UserEntry, entries, find_user};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use shared::auth::Authenticated;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::{Path, Query};
use shared::http::page;
use shared::types::Role;
use shared::users;
use shared::{ApiError, ApiResult, AppState};

/// Newest first; `X-Next-Cursor` names the next page.
#[utoipa::path(get, path = "/api/auth/users", tag = "users", params(page::PageQuery),
    responses((status = 200, description = "A page of users; `X-Next-Cursor` names the next", body = Vec<crate::entry::UserEntry>),
        (status = 403, description = "Below operator", body = shared::http::openapi::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    _caller: Require<min::Operator>,
    Query(query): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let (found, next) = if page::is_paged(&query) {
        let limit = page::limit(query.limit)?;
        let after = page::decode_id('u', query.cursor.as_deref())?;
        users::list(&state.stores, limit, after).await?
    } else {
        page::whole(|limit, after| users::list(&state.stores, limit, after)).await?
    };
    let items = entries(&state, &found).await?;
    Ok(page::respond(items, next.map(|id| page::encode_id('u', id))))
}

/// Callers below operator may see themselves only; another id is a 404 to
/// them, as they may not know who exists.
#[utoipa::path(get, path = "/api/auth/users/{id}", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "The user", body = crate::entry::UserEntry)))]
pub async fn get_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<u64>,
) -> ApiResult<Json<UserEntry>> {
    if !caller.role().at_least(Role::Operator) && caller.user_id() != Some(id) {
        return Err(ApiError::not_found("User not found"));
    }
    let user = find_user(&state, id).await?;
    let mut found = entries(&state, std::slice::from_ref(&user)).await?;
    found.pop().map(Json).ok_or_else(|| ApiError::not_found("User not found"))
}
