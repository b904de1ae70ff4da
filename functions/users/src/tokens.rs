//! `GET /api/auth/users/{id}/tokens` (admin): another user's API tokens.

use axum::Json;
use axum::extract::State;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Path;
use shared::tokens;
use shared::tokens::TokenView;
use shared::{ApiResult, AppState};

use crate::entry::find_user;

#[utoipa::path(get, path = "/api/auth/users/{id}/tokens", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "The user's tokens (never the secrets)", body = Vec<shared::tokens::TokenView>), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Vec<TokenView>>> {
    find_user(&state, id).await?;
    let found = tokens::list_of(&state.stores, id).await?;
    Ok(Json(found.iter().map(TokenView::from).collect()))
}
