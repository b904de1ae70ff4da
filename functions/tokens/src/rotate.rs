//! `POST /api/auth/tokens/{id}/rotate`: a new secret for a token, the old one
//! working on for `TOKEN_ROTATION_OVERLAP_SECS` (see `shared::tokens::rotate`).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::Outcome;
use shared::auth::{Authenticated, ClientInfo, ensure_enabled};
use shared::http::extract::Path;
use shared::tokens::issue::Created;
use shared::tokens::rotate::{self, RotateError};
use shared::types::{Role, Timestamp};
use shared::{ApiError, ApiResult, AppState};

use crate::revoke::own_or_admins;

/// The new secret, shown once, and until when the old one still works.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RotatedToken)]
pub struct Rotated {
    #[serde(flatten)]
    created: Created,
    previous_valid_until: Timestamp,
}

/// The owner or an admin; 404 for others' tokens, as revocation.
#[utoipa::path(post, path = "/api/auth/tokens/{id}/rotate", tag = "tokens",
    params(("id" = u64, Path, description = "Token id")),
    responses((status = 200, description = "Rotated: `token` is the new secret, shown only now; the old one works until `previous_valid_until`", body = Rotated),
        (status = 404, description = "No such token of the caller's", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "Revoked or rotated by another request meanwhile (`token_changed`)", body = shared::http::openapi::ErrorBody)))]
pub async fn rotate(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<Rotated>> {
    ensure_enabled(&state.config)?;
    let token = own_or_admins(&state, &caller, id).await?;
    let mut event = client
        .event(caller.actor(), "token.rotate", Outcome::Success)
        .target(format!("token:{} {} of user:{}", token.id, token.name, token.user_id));
    if caller.user_id() != Some(token.user_id) {
        event = event.requiring(Role::Admin);
    }
    match rotate::rotate(&state.stores, &token, state.config.token_rotation_overlap, &event).await {
        Ok(rotated) => Ok(Json(Rotated {
            created: Created::new(rotated.token, rotated.record),
            previous_valid_until: rotated.previous_valid_until,
        })),
        Err(RotateError::Changed) => Err(ApiError::conflict(
            "token_changed",
            "The token was revoked or rotated meanwhile; list your tokens again",
        )),
        Err(RotateError::Store(e)) => Err(e.into()),
    }
}
