//! The `users` endpoint group (`/api/auth/users`): user administration.

mod change;
mod delete;
mod entry;
mod identities;
mod list;
mod mfa;
mod password;
mod sessions;
mod tokens;

use shared::Routes;
use shared::http::routes;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("users")
        .route(routes!(list::list_users))
        .route(routes!(list::get_user))
        .route(routes!(change::patch_user))
        .route(routes!(delete::delete_user))
        .route(routes!(change::set_role))
        .route(routes!(password::reset_password))
        .route(routes!(sessions::unlock))
        .route(routes!(sessions::list_sessions))
        .route(routes!(sessions::end_sessions))
        .route(routes!(sessions::end_session))
        .route(routes!(tokens::list_tokens))
        .route(routes!(mfa::reset_mfa))
        .route(routes!(identities::unlink_identity))
}
