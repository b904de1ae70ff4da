//! The `auth` endpoint group (`/api/auth`): who may log in and how.

mod login;
mod me;
mod password;
mod register;
mod schema;
mod session;
mod sessions;
mod status;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("auth")
        .get("/api/auth/status", status::status)
        .post("/api/auth/register", register::register)
        .post("/api/auth/login", login::login)
        .post("/api/auth/logout", login::logout)
        .get("/api/auth/me", me::me)
        .post("/api/auth/password", password::change_password)
        .get("/api/auth/sessions", sessions::list)
        .delete("/api/auth/sessions", sessions::end_others)
        .delete("/api/auth/sessions/{id}", sessions::end_one)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(
        status::status,
        register::register,
        login::login,
        login::logout,
        me::me,
        password::change_password,
        sessions::list,
        sessions::end_others,
        sessions::end_one
    ))]
    struct Doc;
    Doc::openapi()
}
