//! The `auth` endpoint group (`/api/auth`): who may log in and how.

mod login;
mod login_mfa;
mod me;
mod mfa;
mod oidc;
mod passkey_login;
mod passkeys;
mod password;
mod register;
mod session;
mod sessions;
mod status;

use shared::Routes;
use shared::http::routes;
use shared::tokens::{Needs, Scope};

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("auth")
        .route(routes!(status::status), Needs::NOTHING)
        .route(routes!(register::register), Scope::UsersAdmin)
        .route(routes!(login::login), Needs::NOTHING)
        .route(routes!(login::logout), Needs::NOTHING)
        .route(routes!(me::me), Scope::Read.on_resources())
        .route(routes!(password::change_password), Scope::Inherit)
        .route(routes!(sessions::list), Scope::Read)
        .route(routes!(sessions::end_others), Scope::Inherit)
        .route(routes!(sessions::end_one), Scope::Inherit)
        .route(routes!(login_mfa::login_mfa), Needs::NOTHING)
        .route(routes!(mfa::status::status), Scope::Read)
        .route(routes!(mfa::totp::enrol, mfa::totp::remove), Scope::Inherit)
        .route(routes!(mfa::totp::confirm), Scope::Inherit)
        .route(routes!(mfa::recovery::regenerate), Scope::Inherit)
        .route(routes!(passkeys::register_start), Scope::Inherit)
        .route(routes!(passkeys::register_finish), Scope::Inherit)
        .route(routes!(passkeys::rename, passkeys::delete), Scope::Inherit)
        .route(routes!(passkey_login::start), Needs::NOTHING)
        .route(routes!(passkey_login::finish), Needs::NOTHING)
        .route(routes!(passkey_login::second_factor_start), Needs::NOTHING)
        .route(routes!(passkey_login::second_factor_finish), Needs::NOTHING)
        .route(routes!(oidc::flow::providers), Needs::NOTHING)
        .route(routes!(oidc::identities::settings), Scope::Read)
        .route(routes!(oidc::flow::start), Needs::NOTHING)
        .route(routes!(oidc::flow::callback), Needs::NOTHING)
        .route(routes!(oidc::cli::handoff), Needs::NOTHING)
        .route(routes!(oidc::cli::exchange), Needs::NOTHING)
        .route(routes!(oidc::identities::link), Scope::Inherit)
        .route(routes!(oidc::identities::list), Scope::Read)
        .route(routes!(oidc::identities::unlink), Scope::Inherit)
}
