//! The `tokens` endpoint group (`/api/auth/tokens`): API tokens for scripts.

mod create;
mod list;
mod revoke;

use shared::Routes;
use shared::http::routes;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("tokens")
        .route(routes!(list::list_own))
        .route(routes!(create::create))
        .route(routes!(create::create_compat))
        .route(routes!(revoke::revoke))
}
