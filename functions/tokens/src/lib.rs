//! The `tokens` endpoint group (`/api/auth/tokens`): API tokens for scripts.

mod create;
mod list;
mod revoke;

use shared::Routes;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("tokens")
        .get("/api/auth/tokens", list::list_own)
        .post("/api/auth/tokens", create::create)
        .post("/api/auth/tokens/create", create::create_compat)
        .delete("/api/auth/tokens/{id}", revoke::revoke)
}
