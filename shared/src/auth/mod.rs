//! Who is calling: credential resolution as extractors, and the
//! pieces it is built from (passwords, session tokens, cookies, CSRF, throttling).

pub mod bearer;
pub mod caller;
pub mod client;
pub mod cookie;
pub mod csrf;
pub mod extract;
pub mod password;
mod resolve;
pub mod session_token;
pub mod throttle;

pub use caller::{Caller, Identity, Via, insufficient_scope};
pub use client::ClientInfo;
pub use extract::{Authenticated, Deferred, Enrolling, MaybeCaller, Require, enrolled, min};

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
