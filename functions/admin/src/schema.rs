//! Schemas of the answers the admin handlers build as JSON values (the
//! OpenAPI document's view of them; schemathesis checks real answers against them).

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]

use std::collections::BTreeMap;

/// User counts.
#[derive(utoipa::ToSchema)]
pub struct UserCounts {
    total: i64,
    /// Users per role (`viewer`, `user`, `operator`, `admin`).
    by_role: BTreeMap<String, i64>,
    active_admins: u64,
}

/// `GET /api/admin/stats`.
#[derive(utoipa::ToSchema)]
pub struct Stats {
    users: UserCounts,
    active_sessions: u64,
    pending_approvals: u64,
}
