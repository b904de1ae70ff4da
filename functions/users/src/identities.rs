//! `DELETE /api/auth/users/{id}/identities/{iid}` (admin): unlinks one of a
//! user's single sign-on identities, with the same guard as the user's own
//! unlinking (never their last way to log in).

use axum::Json;
use axum::extract::State;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Path;
use shared::http::openapi::Message;
use shared::oidc::provision;
use shared::{ApiResult, AppState};

#[utoipa::path(delete, path = "/api/auth/users/{id}/identities/{iid}", tag = "users",
    params(("id" = u64, Path, description = "User id"), ("iid" = String, Path, description = "An identity id as the user's identities list it")),
    responses(
        (status = 200, description = "Unlinked", body = Message),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such user or identity", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "`last_login_method`: the user's last way to log in (set a password for them first)", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn unlink_identity(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path((id, iid)): Path<(u64, String)>,
) -> ApiResult<Json<Message>> {
    let event = client
        .event(caller.actor(), "identity.unlink", Outcome::Success)
        .target(format!("user:{id} identity:{}", iid.get(..16).unwrap_or(&iid)));
    let link = provision::unlink(&state.stores, id, &iid, &event).await?;
    Ok(Json(Message { message: format!("Unlinked the user's identity of {}", link.provider) }))
}
