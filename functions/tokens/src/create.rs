//! `POST /api/auth/tokens` (201) and the original CLI's `POST /api/auth/tokens/create` (200).

use axum::extract::State;
use axum::http::StatusCode;
use shared::auth::Authenticated;
use shared::auth::ClientInfo;
use shared::auth::ensure_enabled;
use shared::http::extract::Json;
use shared::tokens::issue::{self, Authority, Created, TokenRequest};
use shared::{ApiError, ApiResult, AppState};

#[utoipa::path(post, path = "/api/auth/tokens", tag = "tokens", request_body = TokenRequest,
    responses((status = 201, description = "Created; `token` is shown only now", body = Created), (status = 403, description = "The built-in system admin cannot own tokens (`no_tokens`); a service account's tokens are minted by admins (`service_account`); a token may only mint what it holds (`insufficient_scope`, `token_resource_limited`)", body = shared::http::openapi::ErrorBody), (status = 409, description = "The caller already has a token of that name (`token_name_taken`), or holds the most tokens allowed, 100 (`too_many_tokens`)", body = shared::http::openapi::ErrorBody), (status = 422, description = "A scope above the caller's role, an unknown scope or resource, or an expiry past `TOKEN_MAX_LIFETIME_DAYS`", body = shared::http::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Authenticated,
    client: ClientInfo,
    body: Json<TokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    issue_own(&state, caller, &client, body.0, StatusCode::CREATED).await
}

/// The original CLI checks for 200 after logging in.
#[utoipa::path(post, path = "/api/auth/tokens/create", tag = "tokens", request_body = TokenRequest,
    responses((status = 200, description = "Created; `token` is shown only now", body = Created), (status = 403, description = "The built-in system admin cannot own tokens", body = shared::http::openapi::ErrorBody), (status = 409, description = "The caller already has a token of that name (`token_name_taken`), or holds the most tokens allowed, 100 (`too_many_tokens`)", body = shared::http::openapi::ErrorBody), (status = 422, description = "A scope above the caller's role, an unknown scope or resource, or an expiry past `TOKEN_MAX_LIFETIME_DAYS`", body = shared::http::openapi::ErrorBody)))]
pub async fn create_compat(
    State(state): State<AppState>,
    caller: Authenticated,
    client: ClientInfo,
    body: Json<TokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    issue_own(&state, caller, &client, body.0, StatusCode::OK).await
}

async fn issue_own(
    state: &AppState,
    Authenticated(caller): Authenticated,
    client: &ClientInfo,
    body: TokenRequest,
    status: StatusCode,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    ensure_enabled(&state.config)?;
    let Some(owner) = caller.user() else {
        return Err(ApiError::forbidden(
            "no_tokens",
            "API tokens belong to users; the built-in system admin cannot own one",
        ));
    };
    if owner.is_service() {
        return Err(ApiError::forbidden(
            "service_account",
            "A service account holds only the tokens admins mint for it (POST /api/auth/service-accounts/{id}/tokens)",
        ));
    }
    let (token, record) =
        issue::issue(&state.stores, &state.config, client, (&caller, Authority::Own), (owner.id, owner.role), &body)
            .await?;
    Ok((status, axum::Json(Created::new(token, record))))
}
