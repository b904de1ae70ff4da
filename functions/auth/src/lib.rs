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
        .route(routes!(login_mfa::login_mfa))
        .route(routes!(mfa::status::status))
        .route(routes!(mfa::totp::enrol, mfa::totp::remove))
        .route(routes!(mfa::totp::confirm))
        .route(routes!(mfa::recovery::regenerate))
        .route(routes!(passkeys::register_start))
        .route(routes!(passkeys::register_finish))
        .route(routes!(passkeys::rename, passkeys::delete))
        .route(routes!(passkey_login::start))
        .route(routes!(passkey_login::finish))
        .route(routes!(passkey_login::second_factor_start))
        .route(routes!(passkey_login::second_factor_finish))
        .route(routes!(oidc::flow::providers))
        .route(routes!(oidc::identities::settings))
        .route(routes!(oidc::flow::start))
        .route(routes!(oidc::flow::callback))
        .route(routes!(oidc::cli::handoff))
        .route(routes!(oidc::cli::exchange))
        .route(routes!(oidc::identities::link))
        .route(routes!(oidc::identities::list))
        .route(routes!(oidc::identities::unlink))
}
