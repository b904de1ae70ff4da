//! The `admin` endpoint group (`/api/admin`, admin or `X-Admin-Secret`): the
//! audit log, statistics and the effective configuration.

mod audit;
mod overview;

mod schema;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("admin")
        .get("/api/admin/audit", audit::list)
        .get("/api/admin/stats", overview::stats)
        .get("/api/admin/config", overview::config)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(audit::list, overview::stats, overview::config))]
    struct Doc;
    Doc::openapi()
}
