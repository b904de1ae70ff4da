//! `GET /api/auth/users/{id}/sessions`, `DELETE /api/auth/users/{id}/sessions`,
//! `DELETE /api/auth/users/{id}/sessions/{session_id}` and
//! `POST /api/auth/users/{id}/unlock` (admin).

use axum::Json;
use axum::extract::State;
use shared::audit::{self, Outcome};
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::auth::throttle;
use shared::http::extract::Path;
use shared::http::openapi::{Message, SessionsEnded};
use shared::sessions::{self, SessionView};
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

use crate::entry::find_user;

/// The user's live sessions, oldest first.
#[utoipa::path(get, path = "/api/auth/users/{id}/sessions", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Live sessions, oldest first", body = Vec<SessionView>), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody), (status = 404, description = "No such user", body = shared::http::openapi::ErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Path(id): Path<u64>,
) -> ApiResult<Json<Vec<SessionView>>> {
    find_user(&state, id).await?;
    let found = sessions::list(&state.stores.redis, id, Timestamp::now().millis()).await?;
    Ok(Json(found.iter().map(SessionView::for_admin).collect()))
}

/// Ends one session of the user.
#[utoipa::path(delete, path = "/api/auth/users/{id}/sessions/{session_id}", tag = "users",
    params(("id" = u64, Path, description = "User id"), ("session_id" = String, Path, description = "A session id as `GET /api/auth/users/{id}/sessions` lists it")),
    responses((status = 200, description = "Ended", body = shared::http::openapi::Message), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody), (status = 404, description = "No such user or session", body = shared::http::openapi::ErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path((id, session_id)): Path<(u64, String)>,
) -> ApiResult<Json<Message>> {
    let user = find_user(&state, id).await?;
    if !sessions::end_by_public_id(&state.stores.redis, id, &session_id, Timestamp::now().millis()).await? {
        return Err(ApiError::not_found("Session not found"));
    }
    let event = client
        .event(caller.actor(), "session.revoke", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username))
        .detail(format!("session {session_id}"));
    audit::record(&state.stores, &event).await?;
    Ok(Json(Message { message: "Session ended".into() }))
}

#[utoipa::path(delete, path = "/api/auth/users/{id}/sessions", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Ended", body = shared::http::openapi::SessionsEnded), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn end_sessions(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<SessionsEnded>> {
    let user = find_user(&state, id).await?;
    let ended = sessions::end_all(&state.stores.redis, id, None).await?;
    let event = client
        .event(caller.actor(), "session.revoke_all", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username))
        .detail(format!("{ended} sessions"));
    audit::record(&state.stores, &event).await?;
    Ok(Json(SessionsEnded { message: "Sessions ended".into(), sessions_ended: ended }))
}

/// Clears the account's login throttling (the per-address limit stays).
#[utoipa::path(post, path = "/api/auth/users/{id}/unlock", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Cleared", body = shared::http::openapi::Message), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<Message>> {
    let user = find_user(&state, id).await?;
    throttle::clear(&state.stores.redis, &user.username.to_ascii_lowercase()).await?;
    let event = client
        .event(caller.actor(), "user.unlock", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username));
    audit::record(&state.stores, &event).await?;
    Ok(Json(Message { message: format!("Login throttling cleared for {}", user.username) }))
}
