//! The `vps` endpoint group: VPS instances (tasks of type `vps`), their
//! assignment to users and groups, and `/api/authorize`, the question an SSH
//! proxy or terminal gateway asks.

mod assign;
mod authorize;
mod list;

use shared::Routes;
use shared::http::routes;
use shared::tokens::Scope;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("vps")
        .route(routes!(list::list), Scope::Read)
        .route(routes!(list::my), Scope::Read)
        .route(routes!(list::status), Scope::Read)
        .route(routes!(assign::assign), Scope::VpsManage.on_resources())
        .route(routes!(assign::unassign_user), Scope::VpsManage.on_resources())
        .route(routes!(assign::unassign_group), Scope::VpsManage.on_resources())
        .route(routes!(assign::assignments), Scope::Read.on_resources())
        .route(routes!(authorize::authorize), Scope::VpsConnect.on_resources())
}
