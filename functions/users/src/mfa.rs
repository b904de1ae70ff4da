//! `DELETE /api/auth/users/{id}/mfa` (admin): for a user who lost their
//! device, every second factor goes (TOTP, recovery codes, passkeys), and
//! every session of theirs ends.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Path;
use shared::mfa::reset;
use shared::users::UserRecord;
use shared::{ApiError, ApiResult, AppState};

/// `DELETE /api/auth/users/{id}/mfa`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MfaReset {
    message: String,
    /// Factor items removed (TOTP, the recovery codes, each passkey).
    #[schema(value_type = u64)]
    factors_removed: usize,
    sessions_ended: u64,
}

#[utoipa::path(delete, path = "/api/auth/users/{id}/mfa", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses(
        (status = 200, description = "Every factor removed, every session ended", body = MfaReset),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such user", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "The user kept changing; try again; or `service_account`: a service account has no second factors", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<MfaReset>> {
    if crate::entry::find_user(&state, id).await?.kind.is_service() {
        return Err(ApiError::conflict("service_account", "A service account has no second factors"));
    }
    let event = |user: &UserRecord, removed: usize| {
        client
            .event(caller.actor(), "mfa.reset", Outcome::Success)
            .target(format!("user:{} {}", user.id, user.username))
            .detail(format!("{removed} factor items removed; sessions ended"))
    };
    let done = reset::reset(&state.stores, id, event).await?;
    Ok(Json(MfaReset {
        message: format!("Second factors of {} removed", done.user.username),
        factors_removed: done.factors_removed,
        sessions_ended: done.sessions_ended,
    }))
}
