//! An admin's reset of a user's second factors, for a user who lost their
//! device: every factor goes, and with it every session of the user.

use crate::audit::AuditEvent;
use crate::db::Stores;
use crate::error::{ApiError, ApiResult};
use crate::identity;
use crate::mfa::store::{self, FactorError};
use crate::sessions;
use crate::users::UserRecord;

/// What a reset did.
#[derive(Debug)]
pub struct ResetDone {
    pub user: UserRecord,
    pub factors_removed: usize,
    pub sessions_ended: u64,
}

/// Removes every factor of user `user_id` (TOTP, recovery codes, passkeys)
/// with its audit event, then publishes the user's state and ends their
/// sessions (the reset moved the credential generation on, so they were
/// refused already; this removes their records).
pub async fn reset(
    stores: &Stores,
    user_id: u64,
    audit: impl Fn(&UserRecord, usize) -> AuditEvent,
) -> ApiResult<ResetDone> {
    let done = match store::remove_all(stores, user_id, audit).await {
        Ok(done) => done,
        Err(FactorError::UserGone) => return Err(ApiError::not_found("User not found")),
        Err(FactorError::Conflict) => {
            return Err(ApiError::conflict("concurrent_update", "The user changed meanwhile; try again"));
        }
        Err(FactorError::Store(e)) => return Err(e.into()),
    };
    identity::factors_changed(stores, user_id).await?;
    let sessions_ended = sessions::end_all(&stores.redis, user_id, None).await?;
    Ok(ResetDone { user: done.user, factors_removed: done.items_removed, sessions_ended })
}
