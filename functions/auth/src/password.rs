//! `POST /api/auth/password`: change one's own password; every other session ends.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::audit::{self, Outcome};
use shared::auth::Authenticated;
use shared::auth::ClientInfo;
use shared::auth::ensure_enabled;
use shared::auth::password;
use shared::auth::throttle;
use shared::http::openapi::SessionsEnded;
use shared::identity;
use shared::sessions;
use shared::types::Timestamp;
use shared::users;
use shared::users::UpdateError;
use shared::users::Username;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    current_password: String,
    /// At least 8 characters, at most 1024 bytes; not a common password, not containing the username.
    #[schema(min_length = 8)]
    new_password: String,
}

/// Changes the caller's password; every other session ends.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed", body = shared::http::openapi::SessionsEnded),
        (status = 403, description = "Wrong current password, or the system admin or a service account (no password)", body = shared::http::openapi::ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<PasswordBody>,
) -> ApiResult<Json<SessionsEnded>> {
    ensure_enabled(&state.config)?;
    let Some(me) = caller.user() else {
        return Err(ApiError::forbidden("no_password", "The built-in system admin has no password"));
    };
    if me.is_service() {
        // It has none, and setting one would make it a login.
        return Err(ApiError::forbidden("service_account", "A service account has no password"));
    }
    let redis = &state.stores.redis;
    let limits = &state.config.login_throttle;
    let name_key = me.username.to_ascii_lowercase();
    let now = Timestamp::now();
    // Guessing the current password through a stolen session is throttled like
    // logins, and counted before the check like them.
    let reservation = throttle::reserve_proof(redis, limits, &name_key, &client.addr, now.millis()).await?;
    let checked = async {
        let record =
            users::get(&state.stores, me.id).await?.ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
        let matches = state.keys.passwords.verify(&body.current_password, Some(&record.password_hash)).await?;
        ApiResult::Ok((record, matches))
    };
    let (record, matches) = match checked.await {
        Ok(checked) => checked,
        Err(e) => {
            throttle::cancel(redis, reservation).await;
            return Err(e);
        }
    };
    if !matches {
        throttle::fail(redis, limits, reservation).await?;
        let event = client.event(caller.actor(), "user.password_change", Outcome::Failure).reason("wrong_password");
        audit::record(&state.stores, &event).await?;
        return Err(ApiError::forbidden("wrong_password", "The current password is incorrect"));
    }
    throttle::succeed(redis, reservation).await?;
    let username = Username::parse(&record.username)?;
    password::check_new("new_password", &body.new_password, &username)?;
    let hash = state.keys.passwords.hash(&body.new_password).await?;
    let event = client
        .event(caller.actor(), "user.password_change", Outcome::Success)
        .target(format!("user:{} {}", record.id, record.username));
    let changed = match identity::set_password(&state.stores, record.id, &hash, &event).await {
        Ok(user) => user,
        Err(UpdateError::NotFound) => return Err(ApiError::unauthorized("Not authenticated")),
        Err(UpdateError::Contended) => {
            return Err(ApiError::conflict("concurrent_update", "The account changed meanwhile; try again"));
        }
        Err(UpdateError::LastAdmin) => {
            return Err(ApiError::Internal(anyhow::anyhow!("password change hit the admin guard")));
        }
        Err(UpdateError::Store(e)) => return Err(e.into()),
    };
    // The other sessions are over: the new credential generation refuses them
    // already; this removes their records. The caller's own session lives on
    // in the new generation.
    let ended = sessions::end_all(redis, record.id, caller.session_hash()).await?;
    if let Some(hash) = caller.session_hash() {
        sessions::set_epoch(redis, record.id, hash, changed.epoch).await?;
    }
    Ok(Json(SessionsEnded { message: "Password changed".into(), sessions_ended: ended }))
}
