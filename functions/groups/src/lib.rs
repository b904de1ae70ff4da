//! The `groups` endpoint group (`/api/auth/groups`): groups and their members.
//! Admins write; operators read.

mod crud;
mod members;

mod schema;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("groups")
        .get("/api/auth/groups", crud::list)
        .post("/api/auth/groups", crud::create)
        .get("/api/auth/groups/{id}", crud::get)
        .patch("/api/auth/groups/{id}", crud::update)
        .delete("/api/auth/groups/{id}", crud::delete)
        .get("/api/auth/groups/{id}/members", members::list)
        .put("/api/auth/groups/{id}/members/{user_id}", members::add)
        .delete("/api/auth/groups/{id}/members/{user_id}", members::remove)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(
        crud::list,
        crud::create,
        crud::get,
        crud::update,
        crud::delete,
        members::list,
        members::add,
        members::remove
    ))]
    struct Doc;
    Doc::openapi()
}
