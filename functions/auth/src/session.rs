//! Starting a session: the Redis record, the signed token and the cookie.

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::auth::ClientInfo;
use shared::auth::cookie;
use shared::identity;
use shared::sessions::{self, SessionRecord};
use shared::types::Timestamp;
use shared::users::{UserRecord, UserView};
use shared::{ApiError, ApiResult, AppState};

/// A login or registration: the user, and for a new session its expiry (an
/// admin creating someone starts no session, so there is none then).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionStarted {
    pub message: String,
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Timestamp)]
    pub expires_at: Option<Timestamp>,
}

/// Creates a session for `user` and answers `status` with
/// `{message, user, expires_at}` and the session cookie.
pub async fn start(
    state: &AppState,
    user: &UserRecord,
    client: &ClientInfo,
    status: StatusCode,
    message: &str,
) -> ApiResult<Response> {
    let opened = open(state, user, client, &[]).await?;
    let body = SessionStarted { message: message.to_owned(), user: user.view(), expires_at: Some(opened.expires) };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(SET_COOKIE, opened.cookie);
    Ok(response)
}

/// A session just stored: its cookie and expiry.
pub struct Opened {
    pub cookie: HeaderValue,
    pub expires: Timestamp,
}

/// Stores a new session of `user` (with `extra` fields beside its own, see
/// `sessions::create_with`) and publishes the user to the cache.
pub async fn open(
    state: &AppState,
    user: &UserRecord,
    client: &ClientInfo,
    extra: &[(&str, String)],
) -> ApiResult<Opened> {
    if user.kind.is_service() {
        // Every way in refuses a service account before this; a session of
        // one must not exist even if a new way in forgets to.
        return Err(ApiError::Unauthorized {
            code: "invalid_credentials",
            detail: "A service account cannot log in; it uses API tokens".into(),
        });
    }
    let now = Timestamp::now();
    let lifetime = i64::from(state.config.session_lifetime_secs);
    let expires = now.plus_secs(lifetime);
    let issued = state
        .keys
        .sessions
        .issue(user.id, now.seconds(), expires.seconds())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("signing a session token: {e}")))?;
    let record = SessionRecord {
        hash: issued.hash,
        user_id: user.id,
        created_at_ms: now.millis(),
        expires_at_ms: expires.millis(),
        last_seen_at_ms: now.millis(),
        client: client.addr.clone(),
        user_agent: client.user_agent.clone(),
        epoch: user.epoch,
    };
    sessions::create_with(&state.stores.redis, &record, extra, now.millis()).await?;
    // Publish the user's current state so the next request needs no DynamoDB read.
    identity::signed_in(&state.stores, user).await?;

    let cookie = cookie::set(&issued.token, lifetime, state.config.cookie_secure);
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Opened { cookie, expires })
}
