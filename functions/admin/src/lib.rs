//! The `admin` endpoint group (`/api/admin`, admin or `X-Admin-Secret`): the
//! audit log, statistics and the effective configuration; the statistics and
//! the login activity are open to operators too.

mod audit;
mod overview;

use shared::Routes;
use shared::http::routes;
use shared::tokens::Scope;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("admin")
        .route(routes!(audit::list), Scope::Read)
        .route(routes!(overview::stats), Scope::Read)
        .route(routes!(overview::activity), Scope::Read)
        .route(routes!(overview::config), Scope::Read)
}
