//! `POST /api/auth/mfa/totp` (enrol), `POST /api/auth/mfa/totp/confirm` and
//! `DELETE /api/auth/mfa/totp`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::audit::{self, Outcome};
use shared::auth::ensure_enabled;
use shared::auth::throttle;
use shared::auth::{ClientInfo, Enrolling};
use shared::http::openapi::Message;
use shared::mfa::cipher::Cipher;
use shared::mfa::enrol;
use shared::mfa::totp::Code;
use shared::mfa::view::{RecoveryCodes, TotpEnrolment};
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

use super::proof::{PasswordBody, ProofBody, prove};
use super::{account, target};

/// Starts enrolling an authenticator app: a new secret, shown once (as text,
/// `otpauth://` URI and QR code). TOTP is not active until a code from the
/// app is confirmed; enrolling again before that replaces the secret.
#[utoipa::path(post, path = "/api/auth/mfa/totp", tag = "auth", request_body = PasswordBody,
    responses(
        (status = 200, description = "The secret, shown once", body = TotpEnrolment),
        (status = 403, description = "Wrong password, or the built-in system admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "TOTP is enabled already", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "MFA_ENCRYPTION_KEY is unset, or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn enrol(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<PasswordBody>,
) -> ApiResult<Json<TotpEnrolment>> {
    ensure_enabled(&state.config)?;
    let user = account(&caller)?;
    // Unconfigured, say so before a password attempt is spent.
    Cipher::from_config(&state.config)?;
    prove(&state, &client, &caller, user, &body.proof(), "mfa.totp_enrol").await?;
    let event = client.event(caller.actor(), "mfa.totp_enrol", Outcome::Success).target(target(user));
    Ok(Json(enrol::enrol_totp(&state.stores, &state.config, user, &event).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConfirmBody {
    /// The current code of the newly enrolled app.
    code: String,
}

/// Activates TOTP with a first code from the app, and answers ten recovery
/// codes, shown once. A wrong code counts in the login throttle.
#[utoipa::path(post, path = "/api/auth/mfa/totp/confirm", tag = "auth", request_body = ConfirmBody,
    responses(
        (status = 200, description = "TOTP is active; the recovery codes, shown once", body = RecoveryCodes),
        (status = 403, description = "Wrong code, or the built-in system admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "No enrolment waiting, or TOTP enabled already", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Not a six-digit code", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "MFA_ENCRYPTION_KEY is unset, or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<ConfirmBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    ensure_enabled(&state.config)?;
    let user = account(&caller)?;
    let code = Code::parse("code", &body.code)?;
    let redis = &state.stores.redis;
    let limits = &state.config.login_throttle;
    let name_key = user.username.to_ascii_lowercase();
    let reservation =
        throttle::reserve_proof(redis, limits, &name_key, &client.addr, Timestamp::now().millis()).await?;
    let event = client.event(caller.actor(), "mfa.totp_confirm", Outcome::Success).target(target(user));
    match enrol::confirm_totp(&state.stores, &state.config, user.id, &code, &event).await {
        Ok(Some(codes)) => {
            throttle::succeed(redis, reservation).await?;
            Ok(Json(RecoveryCodes { recovery_codes: codes }))
        }
        Ok(None) => {
            throttle::fail(redis, limits, reservation).await?;
            let failed = client
                .event(caller.actor(), "mfa.totp_confirm", Outcome::Failure)
                .target(target(user))
                .reason("wrong_code");
            audit::record(&state.stores, &failed).await?;
            Err(ApiError::forbidden("wrong_code", "The code is wrong; check the app's clock and try the current code"))
        }
        Err(e) => {
            throttle::cancel(redis, reservation).await;
            Err(e)
        }
    }
}

/// Removes TOTP and its recovery codes, with the password or a current code.
#[utoipa::path(delete, path = "/api/auth/mfa/totp", tag = "auth", request_body = ProofBody,
    responses(
        (status = 200, description = "Removed", body = shared::http::openapi::Message),
        (status = 403, description = "Wrong password or code, or the built-in system admin", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "TOTP is not enabled", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Neither or both of password and code, or a malformed code", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<ProofBody>,
) -> ApiResult<Json<Message>> {
    ensure_enabled(&state.config)?;
    let user = account(&caller)?;
    let proof = body.proof()?;
    prove(&state, &client, &caller, user, &proof, "mfa.totp_remove").await?;
    let event = client.event(caller.actor(), "mfa.totp_remove", Outcome::Success).target(target(user));
    enrol::remove_totp(&state.stores, user.id, &event).await?;
    Ok(Json(Message { message: "TOTP removed".into() }))
}
