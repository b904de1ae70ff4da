//! The `groups` endpoint group (`/api/auth/groups`): groups and their members.
//! Admins write; operators read.

mod crud;
mod members;

use shared::Routes;
use shared::http::routes;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("groups")
        .route(routes!(crud::list))
        .route(routes!(crud::create))
        .route(routes!(crud::get))
        .route(routes!(crud::update))
        .route(routes!(crud::delete))
        .route(routes!(members::list))
        .route(routes!(members::add))
        .route(routes!(members::remove))
}
