//! The `invitations` endpoint group (`/api/auth/invitations`): invitation codes.
//! Admins invite any role up to their own; operators invite viewers only.

mod create;
mod list;

use shared::Routes;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("invitations")
        .get("/api/auth/invitations", list::list)
        .post("/api/auth/invitations", create::create)
        .post("/api/auth/invitations/create", create::create)
        .delete("/api/auth/invitations/{id}", list::revoke)
}
