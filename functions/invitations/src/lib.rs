//! The `invitations` endpoint group (`/api/auth/invitations`): invitation codes.
//! Admins invite any role up to their own; operators invite viewers only; a
//! group's managers invite users and viewers into that group.

mod create;
mod list;

use shared::Routes;
use shared::http::routes;
use shared::tokens::Scope;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("invitations")
        .route(routes!(list::list), Scope::Read)
        .route(routes!(create::create), Scope::UsersAdmin)
        .route(routes!(create::create_compat), Scope::UsersAdmin)
        .route(routes!(list::revoke), Scope::UsersAdmin)
}
