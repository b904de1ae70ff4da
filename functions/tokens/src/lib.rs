//! The `tokens` endpoint group (`/api/auth/tokens`): API tokens for scripts.

mod all;
mod create;
mod list;
mod revoke;
mod rotate;

use shared::Routes;
use shared::http::routes;
use shared::tokens::Scope;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("tokens")
        .route(routes!(list::list_own), Scope::Read)
        .route(routes!(all::list_all), Scope::Read)
        .route(routes!(create::create), Scope::TokensManage)
        .route(routes!(create::create_compat), Scope::TokensManage)
        .route(routes!(revoke::revoke), Scope::TokensManage)
        .route(routes!(rotate::rotate), Scope::TokensManage)
}
