//! The `vps` endpoint group: VPS instances (tasks of type `vps`), their
//! assignment to users and groups, and `/api/authorize`, the question an SSH
//! proxy or terminal gateway asks.

mod assign;
mod authorize;
mod list;

use shared::Routes;
use shared::http::routes;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("vps")
        .route(routes!(list::list))
        .route(routes!(list::my))
        .route(routes!(list::status))
        .route(routes!(assign::assign))
        .route(routes!(assign::unassign_user))
        .route(routes!(assign::unassign_group))
        .route(routes!(assign::assignments))
        .route(routes!(authorize::authorize))
}
