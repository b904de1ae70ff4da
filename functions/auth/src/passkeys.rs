//! `POST /api/auth/mfa/webauthn/register/start` and `/finish`,
//! `PATCH` and `DELETE /api/auth/mfa/webauthn/{id}`: one's own passkeys.
//! Only a session may manage them: an API token that could add a passkey
//! could turn itself into a login. A user whose role requires a second
//! factor and who has none yet may call them (`Enrolling`): this is how they enrol.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::audit::Outcome;
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::Enrolling;
use shared::auth::ensure_enabled;
use shared::http::extract::Path;
use shared::http::openapi::Message;
use shared::identity::user_cache::CachedUser;
use shared::mfa::passkey::available;
use shared::mfa::passkey::ceremony::CeremonyStarted;
use shared::mfa::passkey::register;
use shared::mfa::view::PasskeyView;
use shared::{ApiError, ApiResult, AppState};

/// The caller's own user, when they came with a session.
fn session_user(caller: &Caller) -> ApiResult<&CachedUser> {
    match caller.user() {
        Some(user) if caller.session_hash().is_some() => Ok(user),
        Some(_) => Err(ApiError::forbidden(
            "session_required",
            "Passkeys are managed from a login session, not with an API token",
        )),
        None => Err(ApiError::forbidden("no_passkeys", "The built-in system admin has no passkeys")),
    }
}

/// Begins registering a passkey: hand `options` to `navigator.credentials.create`.
#[utoipa::path(post, path = "/api/auth/mfa/webauthn/register/start", tag = "mfa",
    security(("session_cookie" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Creation options and the ceremony's id (valid 5 minutes, once)", body = CeremonyStarted),
        (status = 403, description = "Not a login session (an API token, the admin secret)", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "The caller has the most passkeys allowed", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "No relying party is configured (PUBLIC_URL or WEBAUTHN_*), or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn register_start(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
) -> ApiResult<Json<CeremonyStarted>> {
    ensure_enabled(&state.config)?;
    let rp = available(state.keys.passkeys.as_ref())?;
    let user = session_user(&caller)?;
    Ok(Json(register::start(rp, &state.stores, user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterFinishBody {
    ceremony_id: String,
    /// 1 to 64 characters.
    name: String,
    /// What `navigator.credentials.create` answered, as JSON (binary fields in base64url).
    #[schema(value_type = Object)]
    credential: serde_json::Value,
}

/// Finishes a registration with the browser's answer; the passkey is stored as `name`.
#[utoipa::path(post, path = "/api/auth/mfa/webauthn/register/finish", tag = "mfa",
    security(("session_cookie" = []), ("bearer" = [])), request_body = RegisterFinishBody,
    responses(
        (status = 200, description = "The new passkey", body = PasskeyView),
        (status = 403, description = "Not a login session (an API token, the admin secret)", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "This passkey is registered already", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Bad name, unknown or expired ceremony, a credential that is malformed or not accepted, or too many passkeys", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "No relying party is configured, or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn register_finish(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<RegisterFinishBody>,
) -> ApiResult<Json<PasskeyView>> {
    ensure_enabled(&state.config)?;
    let rp = available(state.keys.passkeys.as_ref())?;
    let user = session_user(&caller)?;
    let event = client.event(caller.actor(), "mfa.passkey.register", Outcome::Success);
    let view =
        register::finish(rp, &state.stores, user.id, &body.ceremony_id, &body.name, body.credential, event).await?;
    Ok(Json(view))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RenameBody {
    /// 1 to 64 characters.
    name: String,
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/api/auth/mfa/webauthn/{id}", tag = "mfa",
    security(("session_cookie" = []), ("bearer" = [])), request_body = RenameBody,
    params(("id" = String, Path, description = "The passkey's id (its credential id, base64url)")),
    responses(
        (status = 200, description = "Renamed", body = PasskeyView),
        (status = 403, description = "Not a login session (an API token, the admin secret)", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn rename(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    Path(id): Path<String>,
    shared::http::extract::Json(body): shared::http::extract::Json<RenameBody>,
) -> ApiResult<Json<PasskeyView>> {
    ensure_enabled(&state.config)?;
    let user = session_user(&caller)?;
    let event = client.event(caller.actor(), "mfa.passkey.rename", Outcome::Success);
    Ok(Json(register::rename(&state.stores, user.id, &id, &body.name, event).await?))
}

/// Deletes one of the caller's passkeys.
#[utoipa::path(delete, path = "/api/auth/mfa/webauthn/{id}", tag = "mfa",
    security(("session_cookie" = []), ("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id (its credential id, base64url)")),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 403, description = "Not a login session (an API token, the admin secret)", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    ensure_enabled(&state.config)?;
    let user = session_user(&caller)?;
    let event = client.event(caller.actor(), "mfa.passkey.delete", Outcome::Success);
    let name = register::delete(&state.stores, user.id, &id, event).await?;
    Ok(Json(Message { message: format!("Passkey '{name}' deleted") }))
}
