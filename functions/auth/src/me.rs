//! `GET /api/auth/me`: the caller, how they authenticated and until when.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::auth::Authenticated;
use shared::auth::caller::Via;
use shared::auth::ensure_enabled;
use shared::groups::GroupRef;
use shared::types::Timestamp;
use shared::users::UserView;
use shared::{ApiError, ApiResult, AppState};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    #[serde(flatten)]
    user: UserView,
    groups: Vec<GroupRef>,
    auth_method: &'static str,
    session_expires_at: Option<Timestamp>,
}

/// Anonymous callers get 401 (the original answered 200 with a pseudo user,
/// which made its CLI accept invalid tokens; both original clients handle 401).
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, description = "The caller, their groups and how they authenticated", body = Me)))]
pub async fn me(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<Me>> {
    ensure_enabled(&state.config)?;
    let user = caller.view().ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
    let session_expires_at = match &caller.via {
        Via::Session { expires_at_ms, .. } => Some(Timestamp::from_millis(*expires_at_ms)),
        _ => None,
    };
    let groups = caller.user().map(|u| u.groups.clone()).unwrap_or_default();
    Ok(Json(Me { user, groups, auth_method: caller.via.as_str(), session_expires_at }))
}
