//! The `users` endpoint group (`/api/auth/users`): user administration.

mod change;
mod delete;
mod entry;
mod list;
mod password;
mod schema;
mod sessions;
mod tokens;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("users")
        .get("/api/auth/users", list::list_users)
        .get("/api/auth/users/{id}", list::get_user)
        .patch("/api/auth/users/{id}", change::patch_user)
        .delete("/api/auth/users/{id}", delete::delete_user)
        .put("/api/auth/users/{id}/role", change::set_role)
        .post("/api/auth/users/{id}/password", password::reset_password)
        .post("/api/auth/users/{id}/unlock", sessions::unlock)
        .delete("/api/auth/users/{id}/sessions", sessions::end_sessions)
        .get("/api/auth/users/{id}/tokens", tokens::list_tokens)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(
        list::list_users,
        list::get_user,
        change::patch_user,
        delete::delete_user,
        change::set_role,
        password::reset_password,
        sessions::unlock,
        sessions::end_sessions,
        tokens::list_tokens
    ))]
    struct Doc;
    Doc::openapi()
}
