//! `POST /api/auth/users/{id}/password` (admin): set a new password; the
//! user's sessions end. API tokens are separate credentials that the old
//! password never protected, so they stay unless `revoke_tokens` is true (a
//! reset after a compromise should set it).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::auth::password;
use shared::http::extract::Path;
use shared::identity;
use shared::sessions;
use shared::tokens;
use shared::users::Username;
use shared::{ApiError, ApiResult, AppState};

use crate::change::refusal;
use crate::entry::find_user;

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PasswordReset)]
pub struct ResetBody {
    /// At least 8 characters, at most 1024 bytes; not a common password, not containing the username.
    #[serde(alias = "new_password")]
    #[schema(min_length = 8)]
    password: String,
    /// Also revoke every API token of the user (default false).
    #[serde(default)]
    revoke_tokens: bool,
}

/// The answer of a password reset.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordResetDone {
    message: String,
    sessions_ended: u64,
    /// Present when `revoke_tokens` was true.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = u64)]
    tokens_revoked: Option<usize>,
}

#[utoipa::path(post, path = "/api/auth/users/{id}/password", tag = "users", params(("id" = u64, Path, description = "User id")), request_body = ResetBody,
    responses((status = 200, description = "Set; the user's sessions ended", body = PasswordResetDone), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "`service_account`: a service account has no password", body = shared::http::openapi::ErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(body): shared::http::extract::Json<ResetBody>,
) -> ApiResult<Json<PasswordResetDone>> {
    let user = find_user(&state, id).await?;
    if user.kind.is_service() {
        // A service account has no password to reset: it acts only through
        // the tokens minted for it (a set hash would make it a login).
        return Err(ApiError::conflict(
            "service_account",
            "A service account has no password; mint it a token at /api/auth/service-accounts/{id}/tokens",
        ));
    }
    let username = Username::parse(&user.username)?;
    password::check_new("password", &body.password, &username)?;
    let hash = state.keys.passwords.hash(&body.password).await?;
    let event = client
        .event(caller.actor(), "user.password_reset", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username));
    if let Err(err) = identity::set_password(&state.stores, id, &hash, &event).await {
        return Err(refusal(&state, &caller, &client, id, err).await);
    }
    // The new credential generation already refuses every session; this
    // removes their records.
    let ended = sessions::end_all(&state.stores.redis, id, None).await?;
    let tokens_revoked = if body.revoke_tokens { Some(tokens::revoke_every(&state.stores, id).await?) } else { None };
    Ok(Json(PasswordResetDone { message: "Password reset".into(), sessions_ended: ended, tokens_revoked }))
}
