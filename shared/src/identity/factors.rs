//! Second factors as the cached user sees them: whether a user has any
//! decides the enrolment policy (`MFA_REQUIRED_ROLE`) on every request, so a
//! factor's enrolment or removal must reach the cache like a role change.

use super::user_cache;
use crate::db::{StoreError, Stores};

/// Publishes user `user_id`'s state after a transaction that changed their
/// second factors committed (it wrote the factor item and the user's factor
/// summary, `mfa_totp`/`mfa_passkeys`, and bumped the user's `version`). The
/// state is read back from DynamoDB, so racing writers can only publish the
/// same or a newer version. If publishing fails, the entry is dropped so the
/// next request reads DynamoDB: a removed factor must not keep lifting the
/// policy from a stale entry.
pub async fn factors_changed(stores: &Stores, user_id: u64) -> Result<(), StoreError> {
    match user_cache::refresh(stores, user_id).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(drop) = user_cache::invalidate(&stores.redis, user_id).await {
                tracing::warn!(error = %drop, user_id, "could not drop a cached user after a factor change");
            }
            Err(e)
        }
    }
}
