//! `GET /api/auth/me`: the caller, how they authenticated and until when.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::auth::Enrolling;
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
    /// True while the caller's role needs a second factor they do not have
    /// (`MFA_REQUIRED_ROLE`): until they enrol one (`/api/auth/mfa`), this
    /// session reaches only `/me`, `/mfa*` and logout.
    mfa_enrollment_required: bool,
}

/// Anonymous callers get 401 (the original answered 200 with a pseudo user,
/// which made its CLI accept invalid tokens; both original clients handle 401).
/// Open to a user who must still enrol a second factor, so clients can tell
/// them (`mfa_enrollment_required`).
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, description = "The caller, their groups and how they authenticated", body = Me)))]
pub async fn me(State(state): State<AppState>, Enrolling(caller): Enrolling) -> ApiResult<Json<Me>> {
    ensure_enabled(&state.config)?;
    let user = caller.view().ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
    let session_expires_at = match &caller.via {
        Via::Session { expires_at_ms, .. } => Some(Timestamp::from_millis(*expires_at_ms)),
        _ => None,
    };
    let groups = caller.user().map(|u| u.groups.clone()).unwrap_or_default();
    let mfa_enrollment_required = caller.must_enrol(&state.config);
    Ok(Json(Me { user, groups, auth_method: caller.via.as_str(), session_expires_at, mfa_enrollment_required }))
}
