//! `POST /api/auth/login` and `POST /api/auth/logout`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::audit::activity;
use shared::audit::{self, Outcome};
use shared::auth::ClientInfo;
use shared::auth::MaybeCaller;
use shared::auth::cookie;
use shared::auth::ensure_enabled;
use shared::auth::throttle;
use shared::http::extract::Json;
use shared::sessions;
use shared::types::Timestamp;
use shared::users;
use shared::users::{UserRecord, Username};
use shared::{ApiError, ApiResult, AppState};

use crate::session;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    username: String,
    password: String,
    /// For scripts: the current TOTP code, for a one-step login of a user
    /// with TOTP (without it such a user gets 401 `mfa_required`).
    #[serde(default)]
    otp: Option<String>,
}

const INVALID: &str = "Invalid username or password";

/// Unknown user, wrong password, disabled account and service account (which
/// has no password and never logs in) get the same answer in the same time
/// (one argon2 run each); a throttled account gets 429 even with
/// the right password. The attempt is counted before the password is checked
/// (see `shared::auth::throttle`), so a concurrent burst checks no more
/// passwords than the limits allow.
///
/// A user with a second factor gets, for the right password, 401
/// `mfa_required` with an `mfa_token` and the `methods` to finish with
/// (`POST /api/auth/login/mfa`, or the passkey endpoints); with a right `otp`
/// the session comes at once. The right password alone resets nothing in the
/// throttle: its count is taken back, and the factor's attempts are counted
/// in turn, so a password holder guesses codes no faster than passwords.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", security(()), request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = crate::session::SessionStarted),
        (status = 401, description = "Invalid username or password; or `mfa_required` (with `mfa_token` and `methods`); or `invalid_code` for a wrong `otp`", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "A malformed `otp`", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "A store is unreachable, or TOTP is needed and MFA_ENCRYPTION_KEY is unset", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    ensure_enabled(&state.config)?;
    let limits = &state.config.login_throttle;
    let redis = &state.stores.redis;
    let valid_name = Username::parse(body.username.trim()).ok();
    let name_key = body.username.trim().to_ascii_lowercase();
    // Only a well-formed name is recorded (a password typed into the name field must not be).
    let target = valid_name.as_ref().map_or_else(|| "user:(malformed)".to_owned(), |n| format!("user:{}", n.as_str()));
    let anonymous = (shared::audit::ANONYMOUS_USERNAME.to_owned(), None);

    let now = Timestamp::now();
    let reservation = match throttle::reserve(redis, limits, &name_key, &client.addr, now.millis()).await? {
        throttle::Attempt::Admitted(reservation) => reservation,
        throttle::Attempt::Wait { retry_after, audit } => {
            if audit {
                let event = client.event(anonymous, "auth.login", Outcome::Throttled).target(target);
                audit::record(&state.stores, &event).await?;
            }
            return Err(ApiError::TooManyRequests {
                detail: "Too many failed logins; try again later".into(),
                retry_after,
            });
        }
    };

    let checked = async {
        let user = match &valid_name {
            Some(name) => users::find_by_username(&state.stores, &name.key()).await?,
            None => None,
        };
        // A service account has no hash: checked against none, at the cost of one.
        let hash = user.as_ref().filter(|u| !u.kind.is_service()).map(|u| u.password_hash.as_str());
        let matches = state.keys.passwords.verify(&body.password, hash).await?;
        ApiResult::Ok((user, matches))
    };
    let (user, matches) = match checked.await {
        Ok(checked) => checked,
        Err(e) => {
            throttle::cancel(redis, reservation).await;
            return Err(e);
        }
    };
    let user = match user {
        Some(user) if matches && user.is_active && !user.kind.is_service() => user,
        other => {
            throttle::fail(redis, limits, reservation).await?;
            activity::record(redis, activity::Login::Failure, now).await;
            let reason = match other {
                None => "unknown_user",
                Some(u) if u.kind.is_service() => "service_account",
                Some(u) if !u.is_active => "disabled",
                Some(_) => "wrong_password",
            };
            let event = client.event(anonymous, "auth.login", Outcome::Failure).target(target).reason(reason);
            audit::record(&state.stores, &event).await?;
            return Err(ApiError::Unauthorized { code: "invalid_credentials", detail: INVALID.into() });
        }
    };

    if user.mfa.any() {
        return crate::login_mfa::factor_due(&state, &client, reservation, user, body.otp.as_deref(), now).await;
    }
    throttle::succeed(redis, reservation).await?;
    complete(&state, &client, &user, now, None).await
}

/// A login whose credentials (and second factor, `factor`, if the user has
/// one) were accepted: recorded, audited, and its session started. The
/// record is conditioned on the credentials checked: a password change,
/// reset, deactivation or deletion that committed meanwhile wins.
pub(crate) async fn complete(
    state: &AppState,
    client: &ClientInfo,
    user: &UserRecord,
    now: Timestamp,
    factor: Option<&'static str>,
) -> ApiResult<Response> {
    let detail = factor.map(|factor| format!("second factor: {factor}"));
    let user = recorded(state, client, user, now, detail).await?;
    session::start(state, &user, client, StatusCode::OK, "Login successful").await
}

/// The record and audit of an accepted login (`detail` says how, when more
/// than a password), before its session starts: the user as recorded. A
/// single sign-on login (`oidc`) goes through here too.
pub(crate) async fn recorded(
    state: &AppState,
    client: &ClientInfo,
    user: &UserRecord,
    now: Timestamp,
    detail: Option<String>,
) -> ApiResult<UserRecord> {
    let user = users::record_login(&state.stores, user, now)
        .await?
        .ok_or_else(|| ApiError::Unauthorized { code: "invalid_credentials", detail: INVALID.into() })?;
    let mut event = client
        .event((user.username.clone(), Some(user.id)), "auth.login", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username));
    if let Some(detail) = detail {
        event = event.detail(detail);
    }
    audit::record(&state.stores, &event).await?;
    activity::record(&state.stores.redis, activity::Login::Success, now).await;
    Ok(user)
}

/// `POST /api/auth/logout`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LoggedOut {
    message: String,
    /// For a session from a single sign-on provider with RP-initiated logout
    /// on: the provider's logout URL, for the browser to visit next.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    logout_url: Option<String>,
}

/// Ends the current session (if the request has one) and clears the cookie.
/// Works without valid credentials, and with auth disabled, as the original.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    security((), ("session_cookie" = []), ("bearer" = []), ("admin_secret" = [])),
    responses((status = 200, description = "Logged out; the cookie is cleared", body = LoggedOut)))]
pub async fn logout(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    client: ClientInfo,
) -> ApiResult<Response> {
    let mut logout_url = None;
    if let (Some(hash), Some(user_id)) = (caller.session_hash(), caller.user_id()) {
        logout_url = crate::oidc::flow::provider_logout(&state, user_id, hash).await;
        if sessions::end(&state.stores.redis, hash, user_id).await? {
            let event = client.event(caller.actor(), "auth.logout", Outcome::Success).target(format!("user:{user_id}"));
            audit::record(&state.stores, &event).await?;
        }
    }
    let message = "Logged out successfully".to_owned();
    let mut response = axum::Json(LoggedOut { message, logout_url }).into_response();
    let clear = cookie::clear(state.config.cookie_secure);
    response.headers_mut().insert(
        SET_COOKIE,
        clear.parse().map_err(|e: axum::http::header::InvalidHeaderValue| ApiError::Internal(e.into()))?,
    );
    Ok(response)
}
