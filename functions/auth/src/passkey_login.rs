//! Logging in with a passkey: `POST /api/auth/login/passkey/start` and
//! `/finish` (passwordless, a discoverable passkey with user verification),
//! and `POST /api/auth/login/webauthn/start` and `/finish` (the second
//! factor after a password, for the holder of an `mfa_token`; the steps
//! around the check are `login_mfa.rs`'s, as for a code).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use shared::auth::ClientInfo;
use shared::auth::ensure_enabled;
use shared::auth::throttle;
use shared::http::extract::Json;
use shared::mfa::Method;
use shared::mfa::passkey::available;
use shared::mfa::passkey::ceremony::CeremonyStarted;
use shared::mfa::passkey::login;
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

use crate::login::complete;
use crate::login_mfa::{accepted, admit, pending, refused};

/// Begins a passwordless login: hand `options` to `navigator.credentials.get`.
#[utoipa::path(post, path = "/api/auth/login/passkey/start", tag = "auth", security(()),
    responses(
        (status = 200, description = "Request options (no allowed credentials: the authenticator offers its passkeys) and the ceremony's id (valid 5 minutes, once)", body = CeremonyStarted),
        (status = 503, description = "No relying party is configured (PUBLIC_URL or WEBAUTHN_*), or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn start(State(state): State<AppState>) -> ApiResult<axum::Json<CeremonyStarted>> {
    ensure_enabled(&state.config)?;
    let rp = available(state.keys.passkeys.as_ref())?;
    Ok(axum::Json(login::start(rp, &state.stores).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasskeyLoginBody {
    ceremony_id: String,
    /// What `navigator.credentials.get` answered, as JSON (binary fields in base64url).
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// Finishes a passwordless login: the same answer and session as a password login.
#[utoipa::path(post, path = "/api/auth/login/passkey/finish", tag = "auth", security(()),
    request_body = PasskeyLoginBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = crate::session::SessionStarted),
        (status = 401, description = "The passkey was not accepted (unknown, wrong signature, no user verification, disabled account)", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Unknown, expired or used ceremony, or a malformed credential", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "No relying party is configured, or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn finish(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<PasskeyLoginBody>,
) -> ApiResult<Response> {
    ensure_enabled(&state.config)?;
    let rp = available(state.keys.passkeys.as_ref())?;
    let (user, _) = login::finish(rp, &state.stores, &body.ceremony_id, body.credential, &client).await?;
    if user.kind.is_service() {
        // Unreachable (a service account never holds a session to register a
        // passkey with), refused all the same.
        return Err(ApiError::Unauthorized {
            code: "invalid_credentials",
            detail: "The passkey was not accepted".into(),
        });
    }
    complete(&state, &client, &user, Timestamp::now(), Some("passkey (passwordless)")).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SecondFactorStartBody {
    /// From the `mfa_required` answer of `POST /api/auth/login`.
    mfa_token: String,
}

/// Begins the passkey step of a login: options allowing the user's passkeys.
/// The `mfa_token` stays valid (it is used up by a right assertion).
#[utoipa::path(post, path = "/api/auth/login/webauthn/start", tag = "auth", security(()),
    request_body = SecondFactorStartBody,
    responses(
        (status = 200, description = "Request options and the ceremony's id (valid 5 minutes, once)", body = CeremonyStarted),
        (status = 401, description = "`invalid_mfa_token`: unknown, expired or used, or the account changed since the password", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "The account has no passkey", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "No relying party is configured, or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn second_factor_start(
    State(state): State<AppState>,
    Json(body): Json<SecondFactorStartBody>,
) -> ApiResult<axum::Json<CeremonyStarted>> {
    ensure_enabled(&state.config)?;
    let rp = available(state.keys.passkeys.as_ref())?;
    let (challenge, user) = pending(&state, &body.mfa_token).await?;
    if !challenge.methods.contains(&Method::Webauthn) {
        return Err(no_passkey());
    }
    Ok(axum::Json(login::start_second_factor(rp, &state.stores, user.id, &body.mfa_token).await?))
}

fn no_passkey() -> ApiError {
    ApiError::invalid("mfa_token", "this account has no passkey; see `methods` in the login answer")
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SecondFactorFinishBody {
    mfa_token: String,
    ceremony_id: String,
    /// What `navigator.credentials.get` answered, as JSON (binary fields in base64url).
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// Finishes a login with a passkey as its second factor: the same answer
/// and session as `POST /api/auth/login`. A wrong assertion counts as a
/// failed login in the throttle, as a wrong code does.
#[utoipa::path(post, path = "/api/auth/login/webauthn/finish", tag = "auth", security(()),
    request_body = SecondFactorFinishBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = crate::session::SessionStarted),
        (status = 401, description = "`invalid_code` (the assertion was not accepted), or `invalid_mfa_token`", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Unknown, expired, used or another login's ceremony, a malformed credential, or an account without passkeys", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "No relying party is configured, or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn second_factor_finish(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<SecondFactorFinishBody>,
) -> ApiResult<Response> {
    ensure_enabled(&state.config)?;
    let rp = available(state.keys.passkeys.as_ref())?;
    let credential = login::parse_assertion(body.credential)?;
    let (challenge, user) = pending(&state, &body.mfa_token).await?;
    if !challenge.methods.contains(&Method::Webauthn) {
        return Err(no_passkey());
    }
    let step = login::take_second_factor(&state.stores, user.id, &body.mfa_token, &body.ceremony_id).await?;
    let now = Timestamp::now();
    let reservation = admit(&state, &client, &challenge, now).await?;
    match login::check_second_factor(rp, &state.stores, user.id, &credential, step).await {
        Ok(true) => accepted(&state, &client, reservation, &body.mfa_token, &user, "passkey", now).await,
        Ok(false) => Err(refused(&state, &client, reservation, &user, "passkey", now).await),
        Err(e) => {
            throttle::cancel(&state.stores.redis, reservation).await;
            Err(e)
        }
    }
}
