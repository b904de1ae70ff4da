//! The `invitations` endpoint group (`/api/auth/invitations`): invitation codes.
//! Admins invite any role up to their own; operators invite viewers only.

mod create;
mod list;

use shared::Routes;
use shared::http::routes;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("invitations")
        .route(routes!(list::list))
        .route(routes!(create::create))
        .route(routes!(create::create_compat))
        .route(routes!(list::revoke))
}
