//! The `users` endpoint group (`/api/auth/users`): user administration.

mod change;
mod delete;
mod entry;
mod list;
mod password;
mod sessions;
mod tokens;

use shared::Routes;

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
