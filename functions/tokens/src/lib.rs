//! The `tokens` endpoint group (`/api/auth/tokens`): API tokens for scripts.

mod create;
mod list;
mod revoke;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("tokens")
        .get("/api/auth/tokens", list::list_own)
        .post("/api/auth/tokens", create::create)
        .post("/api/auth/tokens/create", create::create_compat)
        .delete("/api/auth/tokens/{id}", revoke::revoke)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(list::list_own, create::create, create::create_compat, revoke::revoke))]
    struct Doc;
    Doc::openapi()
}
