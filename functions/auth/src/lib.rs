//! The `auth` endpoint group (`/api/auth`): who may log in and how.

mod login;
mod me;
mod password;
mod register;
mod session;
mod sessions;
mod status;

use shared::Routes;
use shared::http::routes;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("auth")
        .route(routes!(status::status))
        .route(routes!(register::register))
        .route(routes!(login::login))
        .route(routes!(login::logout))
        .route(routes!(me::me))
        .route(routes!(password::change_password))
        .route(routes!(sessions::list))
        .route(routes!(sessions::end_others))
        .route(routes!(sessions::end_one))
}
