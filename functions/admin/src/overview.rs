//! `GET /api/admin/stats`, `GET /api/admin/activity` (operator or above) and
//! `GET /api/admin/config`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::audit::activity::{self, Activity};
use shared::auth::Require;
use shared::auth::min;
use shared::masked::MaskedConfig;
use shared::sessions;
use shared::tasks;
use shared::types::Timestamp;
use shared::users;
use shared::{ApiResult, AppState};

/// User counts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserCounts {
    total: i64,
    /// Users per role (`viewer`, `user`, `operator`, `admin`).
    by_role: BTreeMap<String, i64>,
    active_admins: u64,
}

/// `GET /api/admin/stats`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Stats {
    users: UserCounts,
    active_sessions: u64,
    pending_approvals: u64,
}

/// Counts kept by the writes themselves (no table scan): users by role, active
/// admins, live sessions, tasks waiting for approval. Operators may read them
/// too (the panel's overview): they already see the users list.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin",
    responses((status = 200, description = "Counts", body = Stats), (status = 403, description = "Not an operator or admin", body = shared::http::openapi::ErrorBody)))]
pub async fn stats(State(state): State<AppState>, _caller: Require<min::Operator>) -> ApiResult<Json<Stats>> {
    let counts = users::role_counts(&state.stores).await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let by_role = counts.iter().map(|(role, n)| (role.to_string(), *n)).collect();
    let active_admins = users::active_admins(&state.stores).await?;
    let active_sessions = sessions::count_all(&state.stores.redis, Timestamp::now().millis()).await?;
    let pending_approvals = tasks::pending_count_now(&state.stores).await?;
    Ok(Json(Stats { users: UserCounts { total, by_role, active_admins }, active_sessions, pending_approvals }))
}

/// Logins and refused logins per hour over the last 24 hours and per day over
/// the last 30 days (UTC), from counters the login keeps (see
/// `shared::audit::activity`), read in one round trip.
#[utoipa::path(get, path = "/api/admin/activity", tag = "admin",
    responses((status = 200, description = "Login counts, oldest bucket first", body = Activity), (status = 403, description = "Not an operator or admin", body = shared::http::openapi::ErrorBody)))]
pub async fn activity(State(state): State<AppState>, _caller: Require<min::Operator>) -> ApiResult<Json<Activity>> {
    Ok(Json(activity::read(&state.stores.redis, Timestamp::now()).await?))
}

/// The effective configuration, every secret masked.
#[utoipa::path(get, path = "/api/admin/config", tag = "admin",
    responses((status = 200, description = "The effective configuration, secrets masked", body = MaskedConfig), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn config(State(state): State<AppState>, _caller: Require<min::Admin>) -> Json<MaskedConfig> {
    Json(MaskedConfig::from(&state.config))
}
