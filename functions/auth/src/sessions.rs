//! `GET /api/auth/sessions`, `DELETE /api/auth/sessions/{id}` and
//! `DELETE /api/auth/sessions` (all but the current one): one's own sessions.

use axum::Json;
use axum::extract::State;
use shared::audit::{self, Outcome};
use shared::auth::Authenticated;
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::ensure_enabled;
use shared::http::extract::Path;
use shared::http::openapi::{Message, SessionsEnded};
use shared::sessions::{self, SessionView};
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

/// The caller's user id; the system admin has no sessions of its own.
fn own_id(caller: &Caller) -> ApiResult<u64> {
    caller.user_id().ok_or_else(|| ApiError::forbidden("no_sessions", "The built-in system admin has no sessions"))
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth",
    responses((status = 200, description = "Own live sessions", body = Vec<SessionView>), (status = 403, description = "The built-in system admin has no sessions", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<Vec<SessionView>>> {
    ensure_enabled(&state.config)?;
    let user_id = own_id(&caller)?;
    let found = sessions::list(&state.stores.redis, user_id, Timestamp::now().millis()).await?;
    Ok(Json(found.iter().map(|s| SessionView::for_owner(s, caller.session_hash())).collect()))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "A session id as `GET /api/auth/sessions` lists it")),
    responses((status = 200, description = "Ended", body = shared::http::openapi::Message), (status = 403, description = "The built-in system admin has no sessions", body = shared::http::openapi::ErrorBody)))]
pub async fn end_one(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    ensure_enabled(&state.config)?;
    let user_id = own_id(&caller)?;
    if !sessions::end_by_public_id(&state.stores.redis, user_id, &id, Timestamp::now().millis()).await? {
        return Err(ApiError::not_found("Session not found"));
    }
    let event = client.event(caller.actor(), "session.revoke", Outcome::Success).target(format!("session:{id}"));
    audit::record(&state.stores, &event).await?;
    Ok(Json(Message { message: "Session revoked".into() }))
}

/// Ends every session of the caller but the current one.
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "auth",
    responses((status = 200, description = "Ended", body = shared::http::openapi::SessionsEnded), (status = 403, description = "The built-in system admin has no sessions", body = shared::http::openapi::ErrorBody)))]
pub async fn end_others(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
) -> ApiResult<Json<SessionsEnded>> {
    ensure_enabled(&state.config)?;
    let user_id = own_id(&caller)?;
    let ended = sessions::end_all(&state.stores.redis, user_id, caller.session_hash()).await?;
    let event = client
        .event(caller.actor(), "session.revoke_all", Outcome::Success)
        .target(format!("user:{user_id} ({ended} sessions)"));
    audit::record(&state.stores, &event).await?;
    Ok(Json(SessionsEnded { message: "Other sessions revoked".into(), sessions_ended: ended }))
}
