//! The `groups` endpoint group (`/api/auth/groups`): groups and their members.
//! Admins write; operators read; a group's managers read it and change its
//! members (managers.rs).

mod crud;
mod managers;
mod members;
mod quota;

use shared::Routes;
use shared::http::routes;
use shared::tokens::Scope;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("groups")
        .route(routes!(crud::list), Scope::Read)
        .route(routes!(crud::create), Scope::UsersAdmin)
        .route(routes!(crud::get), Scope::Read)
        .route(routes!(crud::update), Scope::UsersAdmin)
        .route(routes!(crud::delete), Scope::UsersAdmin)
        .route(routes!(members::list), Scope::Read)
        .route(routes!(members::add), Scope::UsersAdmin)
        .route(routes!(members::remove), Scope::UsersAdmin)
        .route(routes!(managers::add), Scope::UsersAdmin)
        .route(routes!(managers::remove), Scope::UsersAdmin)
        .route(routes!(quota::set), Scope::UsersAdmin)
        .route(routes!(quota::usage), Scope::Read)
}
