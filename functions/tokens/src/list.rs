//! `GET /api/auth/tokens`: the caller's own tokens, never the secrets.

use axum::Json;
use axum::extract::State;
use shared::auth::Authenticated;
use shared::auth::ensure_enabled;
use shared::tokens;
use shared::tokens::TokenView;
use shared::{ApiResult, AppState};

#[utoipa::path(get, path = "/api/auth/tokens", tag = "tokens",
    responses((status = 200, description = "The caller's tokens (never the secrets)", body = Vec<shared::tokens::TokenView>)))]
pub async fn list_own(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<Vec<TokenView>>> {
    ensure_enabled(&state.config)?;
    let Some(user_id) = caller.user_id() else {
        return Ok(Json(Vec::new()));
    };
    let found = tokens::list_of(&state.stores, user_id).await?;
    Ok(Json(found.iter().map(TokenView::from).collect()))
}
