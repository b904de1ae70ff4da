//! `GET /api/auth/mfa`: the caller's second factors.

use axum::Json;
use axum::extract::State;
use shared::auth::Enrolling;
use shared::auth::ensure_enabled;
use shared::mfa::enrol;
use shared::mfa::view::MfaStatus;
use shared::{ApiResult, AppState};

/// What the caller has enrolled (never a secret), and whether their role
/// must have a factor. Open to a user who must still enrol one.
#[utoipa::path(get, path = "/api/auth/mfa", tag = "auth",
    responses(
        (status = 200, description = "The caller's factors", body = MfaStatus),
        (status = 403, description = "The built-in system admin (no account)", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn status(State(state): State<AppState>, Enrolling(caller): Enrolling) -> ApiResult<Json<MfaStatus>> {
    ensure_enabled(&state.config)?;
    let user = super::account(&caller)?;
    Ok(Json(enrol::status(&state.stores, &state.config, user).await?))
}
