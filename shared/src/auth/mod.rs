//! Who is calling: credential resolution (SPEC section 4) as extractors, and the
//! pieces it is built from (passwords, session tokens, cookies, CSRF, throttling).

pub mod bearer;
pub mod caller;
pub mod client;
pub mod cookie;
pub mod csrf;
pub mod password;
pub mod session_token;
pub mod throttle;

pub use caller::{Authenticated, Caller, Identity, MaybeCaller, Require, Via, min};
pub use client::ClientInfo;

use crate::config::Config;
use crate::error::ApiError;

/// Login, registration, `/me`, passwords, sessions and tokens answer 503 while
/// authentication is disabled, as the original does.
pub fn ensure_enabled(config: &Config) -> Result<(), ApiError> {
    if config.auth_enabled {
        Ok(())
    } else {
        Err(ApiError::unavailable("auth_disabled", "Authentication is not enabled on this server"))
    }
}
