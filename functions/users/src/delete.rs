//! `DELETE /api/auth/users/{id}` (admin): the user goes, and so does every way
//! to act as them (sessions, API tokens, group memberships, VPS assignments). Their tasks stay, with the owner shown as deleted. The
//! id is never handed out again.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use shared::audit::{AuditEvent, Outcome};
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups;
use shared::http::extract::Path;
use shared::sessions;
use shared::tasks;
use shared::tokens;
use shared::users::{self, Planned};
use shared::vps;
use shared::{ApiError, ApiResult, AppState};

use crate::change::refusal;

#[utoipa::path(delete, path = "/api/auth/users/{id}", tag = "users", params(("id" = u64, Path, description = "User id")),
    responses((status = 200, description = "Deleted", body = crate::schema::UserDeleted), (status = 403, description = "Not an admin, or a change of oneself the guards refuse", body = shared::http::openapi::ErrorBody), (status = 409, description = "The last active admin, or a concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    if caller.user_id() == Some(id) {
        return Err(ApiError::forbidden("self_change", "You cannot delete yourself"));
    }
    let outcome = users::delete(
        &state.stores,
        id,
        |plan: Planned<'_>| -> ApiResult<AuditEvent> {
            Ok(client
                .event(caller.actor(), "user.delete", Outcome::Success)
                .target(format!("user:{} {}", plan.before.id, plan.before.username)))
        },
        state.config.audit_retention_days,
    )
    .await?;
    match outcome {
        Ok(user) => {
            // The user's tombstone already refuses them; this removes what is left.
            let ended = sessions::end_all(&state.stores.redis, user.id, None).await?;
            let revoked = tokens::revoke_all_of(&state.stores, user.id).await?;
            groups::leave_all(&state.stores, user.id, &user.group_ids).await?;
            vps::unassign_everywhere(&state.stores, vps::Assignee::User(user.id)).await?;
            // The tasks stay, shown as owned by a deleted user.
            tasks::mark_owner_deleted(&state.stores, user.id).await?;
            Ok(Json(json!({
                "message": format!("User {} deleted", user.username),
                "sessions_ended": ended,
                "tokens_revoked": revoked,
            })))
        }
        Err(err) => Err(refusal(&state, &caller, &client, id, err).await),
    }
}
