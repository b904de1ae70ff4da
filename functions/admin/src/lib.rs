//! The `admin` endpoint group (`/api/admin`, admin or `X-Admin-Secret`): the
//! audit log, statistics and the effective configuration.

mod audit;
mod overview;

use shared::Routes;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("admin")
        .get("/api/admin/audit", audit::list)
        .get("/api/admin/stats", overview::stats)
        .get("/api/admin/config", overview::config)
}
