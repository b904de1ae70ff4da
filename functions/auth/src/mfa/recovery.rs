//! `POST /api/auth/mfa/recovery-codes`: a new set of recovery codes.

use axum::Json;
use axum::extract::State;
use shared::audit::Outcome;
use shared::auth::ensure_enabled;
use shared::auth::{ClientInfo, Enrolling};
use shared::mfa::enrol;
use shared::mfa::view::RecoveryCodes;
use shared::{ApiResult, AppState};

use super::proof::{ProofBody, prove};
use super::{account, target};

/// Ten new recovery codes, shown once; the old ones stop working. With the
/// password or a current code.
#[utoipa::path(post, path = "/api/auth/mfa/recovery-codes", tag = "auth", request_body = ProofBody,
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodes),
        (status = 403, description = "Wrong password or code, or the built-in system admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "TOTP is not enabled (recovery codes come with it)", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Neither or both of password and code, or a malformed code", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn regenerate(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<ProofBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    ensure_enabled(&state.config)?;
    let user = account(&caller)?;
    let proof = body.proof()?;
    prove(&state, &client, &caller, user, &proof, "mfa.recovery_regenerate").await?;
    let event = client.event(caller.actor(), "mfa.recovery_regenerate", Outcome::Success).target(target(user));
    let codes = enrol::regenerate_recovery(&state.stores, user.id, &event).await?;
    Ok(Json(RecoveryCodes { recovery_codes: codes }))
}
