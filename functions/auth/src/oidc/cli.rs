//! The command line's single sign-on (`kohakuriver auth login --sso`,
//! docs/sso.md "The command line"): the CLI starts the browser's login with
//! `next=/api/auth/oidc/cli/handoff?port=…&state=…`; the callback lands the
//! browser there with its new session, which hands a one-time code to the
//! CLI's loopback listener; the CLI trades it at
//! `POST /api/auth/oidc/cli/exchange` for a session of its own (and then an
//! API token, as after a password login). The domain is `shared::oidc::cli`.

use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::auth::{ClientInfo, MaybeCaller};
use shared::http::extract::Json;
use shared::oidc::{OidcError, browser, cli};
use shared::sessions::PROVIDER_MFA_FIELD;
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

use super::redirect;
use crate::login::recorded;
use crate::session::{self, SessionStarted};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HandOffQuery {
    /// The CLI's loopback port on 127.0.0.1 (1024 or above).
    port: Option<u16>,
    /// The CLI's random value (16 to 128 URL-safe characters), echoed to it.
    state: Option<String>,
}

/// Hands the browser's fresh single sign-on login to the CLI: 302 to
/// `http://127.0.0.1:{port}/callback?code=…&state=…` with a one-time code
/// (60 s). Only for a session that began in the last two minutes (the login
/// the CLI started), never for an older one a link could reuse.
#[utoipa::path(get, path = "/api/auth/oidc/cli/handoff", tag = "auth", security(()),
    params(HandOffQuery),
    responses(
        (status = 302, description = "To the CLI's loopback listener with `code` and `state`; to `/login?sso_error=…` without a fresh browser session or with a bad port or state"),
    ))]
pub async fn handoff(
    State(state): State<AppState>,
    caller: Result<MaybeCaller, ApiError>,
    query: Result<axum::extract::Query<HandOffQuery>, QueryRejection>,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let handed = async {
        let (Some(port), Some(cli_state)) = (query.port, query.state.as_deref()) else {
            return Err(OidcError::InvalidState);
        };
        if !cli::valid_request(port, cli_state) {
            return Err(OidcError::InvalidState);
        }
        let caller = caller.map_err(|_| OidcError::InvalidState)?.0;
        let (Some(user_id), Some(hash)) = (caller.user_id(), caller.session_hash()) else {
            return Err(OidcError::InvalidState);
        };
        let now = Timestamp::now().millis();
        let Some(mfa_by) = cli::fresh_session(&state.stores.redis, user_id, hash, now).await? else {
            return Err(OidcError::InvalidState);
        };
        let user = shared::users::get(&state.stores, user_id).await?.ok_or(OidcError::Disabled)?;
        let code = cli::issue(&state.stores.redis, user_id, user.epoch, mfa_by, cli_state).await?;
        Ok(cli::loopback_url(port, &code, cli_state))
    };
    match handed.await {
        Ok(url) => redirect(&url, &[]),
        Err(error) => {
            if let OidcError::Store(e) = &error {
                tracing::warn!(error = %e, "single sign-on hand-off: a store failed");
            }
            redirect(&browser::login_error(&error), &[])
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExchangeBody {
    /// The one-time code the loopback listener received.
    code: String,
    /// The `state` the CLI chose for this login.
    state: String,
}

/// Trades a hand-off code (once, within 60 s, with the `state` it was issued
/// for) for a session of the user, exactly as a password login answers.
#[utoipa::path(post, path = "/api/auth/oidc/cli/exchange", tag = "auth", security(()),
    request_body = ExchangeBody,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = SessionStarted),
        (status = 400, description = "`invalid_handoff`: unknown, used, expired or foreign code", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "A store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn exchange(
    State(state): State<AppState>,
    client: ClientInfo,
    Json(body): Json<ExchangeBody>,
) -> ApiResult<Response> {
    shared::auth::ensure_enabled(&state.config)?;
    let refused = || ApiError::bad_request("invalid_handoff", "The sign-in code is unknown, expired or already used");
    let handed = cli::take(&state.stores.redis, &body.code, &body.state).await?.ok_or_else(refused)?;
    let user = shared::users::get(&state.stores, handed.user_id).await?.filter(|u| u.epoch == handed.epoch);
    let user = user.ok_or_else(refused)?;
    let now = Timestamp::now();
    let user = recorded(&state, &client, &user, now, Some("single sign-on, handed to the command line".into())).await?;
    let extra: Vec<(&str, String)> = handed.provider_mfa.map(|p| (PROVIDER_MFA_FIELD, p)).into_iter().collect();
    let opened = session::open(&state, &user, &client, &extra).await?;
    let body = SessionStarted { message: "Logged in".into(), user: user.view(), expires_at: Some(opened.expires) };
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.headers_mut().insert(SET_COOKIE, opened.cookie);
    Ok(response)
}
