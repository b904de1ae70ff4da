//! `GET /api/admin/stats` and `GET /api/admin/config`.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};
use shared::auth::Require;
use shared::auth::min;
use shared::sessions;
use shared::tasks;
use shared::types::Timestamp;
use shared::users;
use shared::{ApiResult, AppState};

/// Counts kept by the writes themselves (no table scan): users by role, active
/// admins, live sessions, tasks waiting for approval.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin",
    responses((status = 200, description = "Counts", body = crate::schema::Stats), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn stats(State(state): State<AppState>, _caller: Require<min::Admin>) -> ApiResult<Json<Value>> {
    let counts = users::role_counts(&state.stores).await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let by_role: Map<String, Value> = counts.iter().map(|(role, n)| (role.to_string(), json!(n))).collect();
    let active_admins = users::active_admins(&state.stores).await?;
    let active_sessions = sessions::count_all(&state.stores.redis, Timestamp::now().millis()).await?;
    let pending_approvals = tasks::pending_count(&state.stores).await?;
    Ok(Json(json!({
        "users": {"total": total, "by_role": by_role, "active_admins": active_admins},
        "active_sessions": active_sessions,
        "pending_approvals": pending_approvals,
    })))
}

/// The effective configuration, every secret masked.
#[utoipa::path(get, path = "/api/admin/config", tag = "admin",
    responses((status = 200, description = "The effective configuration, secrets masked", body = Object), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn config(State(state): State<AppState>, _caller: Require<min::Admin>) -> Json<Value> {
    Json(state.config.masked())
}
