//! The `users` endpoint group (`/api/auth/users`, `/api/auth/service-accounts`):
//! user administration.

mod change;
mod delete;
mod entry;
mod identities;
mod list;
mod mfa;
mod password;
mod quota;
mod service_accounts;
mod sessions;
mod tokens;

use shared::Routes;
use shared::http::routes;
use shared::tokens::Scope;

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("users")
        .route(routes!(list::list_users), Scope::Read)
        .route(routes!(list::get_user), Scope::Read)
        .route(routes!(change::patch_user), Scope::UsersAdmin)
        .route(routes!(delete::delete_user), Scope::UsersAdmin)
        .route(routes!(change::set_role), Scope::UsersAdmin)
        .route(routes!(password::reset_password), Scope::UsersAdmin)
        .route(routes!(sessions::unlock), Scope::UsersAdmin)
        .route(routes!(sessions::list_sessions), Scope::Read)
        .route(routes!(sessions::end_sessions), Scope::UsersAdmin)
        .route(routes!(sessions::end_session), Scope::UsersAdmin)
        .route(routes!(tokens::list_tokens), Scope::Read)
        .route(routes!(mfa::reset_mfa), Scope::UsersAdmin)
        .route(routes!(identities::unlink_identity), Scope::UsersAdmin)
        .route(routes!(service_accounts::create), Scope::UsersAdmin)
        .route(routes!(service_accounts::list), Scope::Read)
        .route(routes!(service_accounts::delete), Scope::UsersAdmin)
        .route(routes!(service_accounts::mint_token), Scope::TokensManage)
        .route(routes!(quota::get), Scope::Read)
        .route(routes!(quota::set), Scope::UsersAdmin)
}
