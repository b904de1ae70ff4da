//! `DELETE /api/auth/users/{id}` (admin): the user goes, and so does every way
//! to act as them (sessions, API tokens, group memberships, VPS assignments). Their tasks stay, with the owner shown as deleted. The
//! id is never handed out again.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::{AuditEvent, Outcome};
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Path;
use shared::identity;
use shared::users::Planned;
use shared::{ApiError, ApiResult, AppState};

use crate::change::refusal;

/// `DELETE /api/auth/users/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserDeleted {
    message: String,
    sessions_ended: u64,
    #[schema(value_type = u64)]
    tokens_revoked: usize,
}

#[utoipa::path(delete, path = "/api/auth/users/{id}", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Deleted", body = UserDeleted), (status = 403, description = "Not an admin, or a change of oneself the guards refuse", body = shared::http::openapi::ErrorBody), (status = 409, description = "The last active admin, or a concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<UserDeleted>> {
    if caller.user_id() == Some(id) {
        return Err(ApiError::forbidden("self_change", "You cannot delete yourself"));
    }
    let outcome = identity::delete_user(&state.stores, id, |plan: Planned<'_>| -> ApiResult<AuditEvent> {
        Ok(client
            .event(caller.actor(), "user.delete", Outcome::Success)
            .target(format!("user:{} {}", plan.before.id, plan.before.username)))
    })
    .await?;
    match outcome {
        Ok(removed) => Ok(Json(UserDeleted {
            message: format!("User {} deleted", removed.user.username),
            sessions_ended: removed.sessions_ended,
            tokens_revoked: removed.tokens_revoked,
        })),
        Err(err) => Err(refusal(&state, &caller, &client, id, err).await),
    }
}
