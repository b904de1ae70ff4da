//! A user's own second factors (`/api/auth/mfa*`): what is enrolled, TOTP
//! enrolment, confirmation and removal, new recovery codes. These endpoints
//! take [`shared::auth::Enrolling`]: a user whom `MFA_REQUIRED_ROLE` makes
//! enrol a factor can reach them (and `/me`, and logout) and nothing else.

pub mod proof;
pub mod recovery;
pub mod status;
pub mod totp;

use shared::auth::Caller;
use shared::identity::user_cache::CachedUser;
use shared::{ApiError, ApiResult};

/// The caller's own account: the built-in system admin has none, and a
/// service account has no second factors (it never logs in).
fn account(caller: &Caller) -> ApiResult<&CachedUser> {
    let user = caller
        .user()
        .ok_or_else(|| ApiError::forbidden("no_account", "The built-in system admin has no second factors"))?;
    if user.is_service() {
        return Err(ApiError::forbidden("service_account", "A service account has no second factors"));
    }
    Ok(user)
}

/// The audit target of the caller's own account.
fn target(user: &CachedUser) -> String {
    format!("user:{} {}", user.id, user.username)
}
