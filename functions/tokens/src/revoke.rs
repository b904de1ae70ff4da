//! `DELETE /api/auth/tokens/{id}`: the owner or an admin revokes a token.

use axum::Json;
use axum::extract::State;
use shared::audit::Outcome;
use shared::auth::{Authenticated, Caller, ClientInfo, ensure_enabled};
use shared::http::extract::Path;
use shared::http::openapi::Message;
use shared::tokens::{self, TokenRecord};
use shared::types::Role;
use shared::{ApiError, ApiResult, AppState};

/// 404 for a token that is not the caller's (unless an admin asks): others'
/// token ids are not to be probed.
#[utoipa::path(delete, path = "/api/auth/tokens/{id}", tag = "tokens",
    params(("id" = u64, Path, description = "Token id")),
    responses((status = 200, description = "Revoked", body = Message),
        (status = 404, description = "No such token of the caller's", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "Rotated at every try meanwhile (`token_changed`)", body = shared::http::openapi::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<Message>> {
    ensure_enabled(&state.config)?;
    // A rotation committed between the read and the revocation moves the
    // token to a new secret: read it again and revoke that.
    for _ in 0..10 {
        let token = own_or_admins(&state, &caller, id).await?;
        let mut event = client
            .event(caller.actor(), "token.revoke", Outcome::Success)
            .target(format!("token:{} {} of user:{}", token.id, token.name, token.user_id));
        if caller.user_id() != Some(token.user_id) {
            event = event.requiring(Role::Admin);
        }
        if tokens::revoke(&state.stores, &token, Some(&event)).await? {
            return Ok(Json(Message { message: format!("Token '{}' revoked", token.name) }));
        }
    }
    // Still there, and moved by a rotation at every try.
    Err(ApiError::conflict("token_changed", "The token kept being rotated meanwhile; try again"))
}

/// The token `id` if it is the caller's or the caller is an admin; 404
/// otherwise, so others' token ids cannot be probed.
pub(crate) async fn own_or_admins(state: &AppState, caller: &Caller, id: u64) -> ApiResult<TokenRecord> {
    let token = tokens::get_by_id(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Token not found"))?;
    if caller.user_id() != Some(token.user_id) && !caller.role().at_least(Role::Admin) {
        return Err(ApiError::not_found("Token not found"));
    }
    Ok(token)
}
