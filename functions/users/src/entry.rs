//! The user as the administration endpoints show it.

use serde::Serialize;
use shared::groups::{self, GroupRef};
use shared::mfa::MfaSummary;
use shared::sessions;
use shared::types::Timestamp;
use shared::users::UserView;
use shared::users::{self, UserRecord};
use shared::{ApiError, ApiResult, AppState};

/// The user with `id`, or 404.
pub async fn find_user(state: &AppState, id: u64) -> ApiResult<UserRecord> {
    users::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("User not found"))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserEntry {
    #[serde(flatten)]
    user: UserView,
    groups: Vec<GroupRef>,
    last_seen_at: Option<Timestamp>,
    active_sessions: u64,
    /// Which second factors the user has (never their secrets).
    mfa: MfaSummary,
}

/// Entries for `users`, with their live-session counts in one Redis round trip.
pub async fn entries(state: &AppState, users: &[UserRecord]) -> ApiResult<Vec<UserEntry>> {
    let ids: Vec<u64> = users.iter().map(|u| u.id).collect();
    let counts = sessions::count_many(&state.stores.redis, &ids, Timestamp::now().millis()).await?;
    // Every group named on the page, in one batch read.
    let mut group_ids: Vec<u64> = users.iter().flat_map(|u| u.group_ids.iter().copied()).collect();
    group_ids.sort_unstable();
    group_ids.dedup();
    let names = if group_ids.is_empty() { Vec::new() } else { groups::refs(&state.stores, &group_ids).await? };
    Ok(users
        .iter()
        .zip(counts)
        .map(|(user, active_sessions)| UserEntry {
            user: user.view(),
            groups: names.iter().filter(|g| user.group_ids.contains(&g.id)).cloned().collect(),
            last_seen_at: user.last_seen_at,
            active_sessions,
            mfa: user.mfa,
        })
        .collect())
}
