//! The second step of a login: `POST /api/auth/login/mfa` with the
//! `mfa_token` a right password got, and a TOTP code or a recovery code. The
//! steps are shared with the one-step `otp` login and the passkey step
//! (`passkey_login.rs`): [`pending`] finds the login behind a token, [`admit`]
//! counts an attempt in the login throttle before the factor is checked,
//! [`refused`] and [`accepted`] settle it.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use shared::audit::activity;
use shared::audit::{self, Outcome};
use shared::auth::ClientInfo;
use shared::auth::ensure_enabled;
use shared::auth::throttle::{self, Reservation};
use shared::http::extract::Json;
use shared::mfa::challenge::{self, Challenge};
use shared::mfa::totp::Code;
use shared::mfa::{Method, recovery, verify};
use shared::types::Timestamp;
use shared::users::{self, UserRecord};
use shared::{ApiError, ApiResult, AppState};

use crate::login::complete;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MfaLoginBody {
    /// From the `mfa_required` answer of `POST /api/auth/login`.
    mfa_token: String,
    /// The current code of the authenticator app.
    #[serde(default)]
    code: Option<String>,
    /// One of the recovery codes (it then stops working).
    #[serde(default)]
    recovery_code: Option<String>,
}

/// The factor a second step brings.
enum Factor {
    Code(Code),
    Recovery(String),
}

/// Finishes a login with its second factor: the same answer and session as
/// `POST /api/auth/login`. A wrong code counts as a failed login in the
/// throttle (a burst of guesses is bounded like passwords) and leaves the
/// token for another try; a right one uses it up.
#[utoipa::path(post, path = "/api/auth/login/mfa", tag = "auth", security(()), request_body = MfaLoginBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = crate::session::SessionStarted),
        (status = 401, description = "`invalid_code` (a wrong or used code), or `invalid_mfa_token` (unknown, expired or used token, or the account changed since the password)", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Neither or both of `code` and `recovery_code`, a malformed one, or a method the account does not have", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "A store is unreachable, or MFA_ENCRYPTION_KEY is unset", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn login_mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<MfaLoginBody>,
) -> ApiResult<Response> {
    ensure_enabled(&state.config)?;
    let factor = match (body.code.as_deref(), body.recovery_code.as_deref()) {
        (Some(code), None) => Factor::Code(Code::parse("code", code)?),
        (None, Some(raw)) => Factor::Recovery(recovery::normalize("recovery_code", raw)?),
        (None, None) => return Err(ApiError::invalid("code", "a code or a recovery_code is required")),
        (Some(_), Some(_)) => return Err(ApiError::invalid("code", "give a code or a recovery_code, not both")),
    };
    let (challenge, user) = pending(&state, &body.mfa_token).await?;
    let (method, field) = match factor {
        Factor::Code(_) => (Method::Totp, "code"),
        Factor::Recovery(_) => (Method::Recovery, "recovery_code"),
    };
    if !challenge.methods.contains(&method) {
        return Err(ApiError::invalid(field, "this account cannot use that method; see `methods` in the login answer"));
    }
    let now = Timestamp::now();
    let reservation = admit(&state, &client, &challenge, now).await?;
    let checked = match &factor {
        Factor::Code(code) => verify::check_code(&state.stores, &state.config, user.id, code).await,
        Factor::Recovery(code) => {
            let event = client
                .event((user.username.clone(), Some(user.id)), "mfa.recovery_use", Outcome::Success)
                .target(format!("user:{} {}", user.id, user.username));
            verify::check_recovery(&state.stores, user.id, "recovery_code", code, &event).await
        }
    };
    let right = match checked {
        Ok(right) => right,
        Err(e) => {
            throttle::cancel(&state.stores.redis, reservation).await;
            return Err(e);
        }
    };
    let name = match method {
        Method::Recovery => "recovery code",
        _ => "totp",
    };
    if !right {
        return Err(refused(&state, &client, reservation, &user, name, now).await);
    }
    accepted(&state, &client, reservation, &body.mfa_token, &user, name, now).await
}

fn invalid_token() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_mfa_token",
        detail: "The login expired or was used; log in again with your password".into(),
    }
}

/// The login waiting behind `token`, and its user as they are now. 401
/// `invalid_mfa_token` when the token is unknown, expired or used, or the
/// user was deleted, deactivated or changed credentials since the password.
pub(crate) async fn pending(state: &AppState, token: &str) -> ApiResult<(Challenge, UserRecord)> {
    let challenge = challenge::peek(&state.stores.redis, token).await?.ok_or_else(invalid_token)?;
    let user = users::get(&state.stores, challenge.user_id).await?.ok_or_else(invalid_token)?;
    if !user.is_active || user.epoch != challenge.epoch {
        return Err(invalid_token());
    }
    Ok((challenge, user))
}

/// Admits one second-factor attempt of the login in the login throttle
/// (the account and the client address, as a password attempt): counted as
/// a failure until settled by [`refused`] or [`accepted`]. 429 while the
/// account or the address must wait.
pub(crate) async fn admit(
    state: &AppState,
    client: &ClientInfo,
    challenge: &Challenge,
    now: Timestamp,
) -> ApiResult<Reservation> {
    let limits = &state.config.login_throttle;
    match throttle::reserve(&state.stores.redis, limits, &challenge.name_key, &client.addr, now.millis()).await? {
        throttle::Attempt::Admitted(reservation) => Ok(reservation),
        throttle::Attempt::Wait { retry_after, audit } => {
            if audit {
                let event = client
                    .event((shared::audit::ANONYMOUS_USERNAME.to_owned(), None), "auth.login", Outcome::Throttled)
                    .target(format!("user:{}", challenge.user_id))
                    .reason("second_factor");
                audit::record(&state.stores, &event).await?;
            }
            Err(ApiError::TooManyRequests { detail: "Too many failed logins; try again later".into(), retry_after })
        }
    }
}

/// A wrong second factor (`method` names it in the audit event): the attempt
/// stays counted (and may lock the account), is audited, and answers 401
/// `invalid_code`.
pub(crate) async fn refused(
    state: &AppState,
    client: &ClientInfo,
    reservation: Reservation,
    user: &UserRecord,
    method: &'static str,
    now: Timestamp,
) -> ApiError {
    let redis = &state.stores.redis;
    if let Err(e) = throttle::fail(redis, &state.config.login_throttle, reservation).await {
        return e.into();
    }
    activity::record(redis, activity::Login::Failure, now).await;
    let event = client
        .event((shared::audit::ANONYMOUS_USERNAME.to_owned(), None), "auth.login", Outcome::Failure)
        .target(format!("user:{} {}", user.id, user.username))
        .reason("wrong_second_factor")
        .detail(format!("method: {method}"));
    if let Err(e) = audit::record(&state.stores, &event).await {
        return e.into();
    }
    ApiError::Unauthorized {
        code: "invalid_code",
        detail: "The second-factor code is wrong or was used already".into(),
    }
}

/// A right second factor: the account's failure count resets, the token is
/// used up (of concurrent redemptions one wins; the others get 401), and the
/// login completes as a password login does.
pub(crate) async fn accepted(
    state: &AppState,
    client: &ClientInfo,
    reservation: Reservation,
    token: &str,
    user: &UserRecord,
    method: &'static str,
    now: Timestamp,
) -> ApiResult<Response> {
    throttle::succeed(&state.stores.redis, reservation).await?;
    if challenge::redeem(&state.stores.redis, token).await?.is_none() {
        return Err(invalid_token());
    }
    complete(state, client, user, now, Some(method)).await
}

/// `POST /api/auth/login` for a user with a second factor, once the password
/// was right: with a right `otp` (TOTP) the login completes; with a wrong one
/// it fails like a wrong password; without one the answer is 401
/// `mfa_required` with a token for the second step. The password's attempt
/// is handed back to the throttle unjudged (a success would reset the
/// account's count and let a password holder guess codes without bound);
/// the factor's attempts are counted on their own.
pub(crate) async fn factor_due(
    state: &AppState,
    client: &ClientInfo,
    reservation: Reservation,
    user: UserRecord,
    otp: Option<&str>,
    now: Timestamp,
) -> ApiResult<Response> {
    let redis = &state.stores.redis;
    if let (Some(otp), true) = (otp, user.mfa.totp) {
        // The password's attempt becomes the code's: one attempt, counted once.
        let checked = async {
            let code = Code::parse("otp", otp)?;
            verify::check_code(&state.stores, &state.config, user.id, &code).await
        };
        return match checked.await {
            Ok(true) => {
                throttle::succeed(redis, reservation).await?;
                complete(state, client, &user, now, Some("totp")).await
            }
            Ok(false) => Err(refused(state, client, reservation, &user, "totp", now).await),
            Err(e) => {
                throttle::cancel(redis, reservation).await;
                Err(e)
            }
        };
    }
    throttle::cancel(redis, reservation).await;
    let pending = Challenge::for_user(&user, &client.addr);
    let token = challenge::issue(redis, &pending).await?;
    let event = client
        .event((shared::audit::ANONYMOUS_USERNAME.to_owned(), None), "auth.mfa_challenge", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username))
        .detail("password accepted; second factor due");
    audit::record(&state.stores, &event).await?;
    Err(ApiError::MfaRequired { token: token.into(), methods: pending.methods })
}
