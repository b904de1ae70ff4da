//! The `invitations` endpoint group (`/api/auth/invitations`): invitation codes.
//! Admins invite any role up to their own; operators invite viewers only.

mod create;
mod list;

mod schema;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("invitations")
        .get("/api/auth/invitations", list::list)
        .post("/api/auth/invitations", create::create)
        .post("/api/auth/invitations/create", create::create_compat)
        .delete("/api/auth/invitations/{id}", list::revoke)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(list::list, create::create, create::create_compat, list::revoke))]
    struct Doc;
    Doc::openapi()
}
