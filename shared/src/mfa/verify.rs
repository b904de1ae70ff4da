//! Checking a second factor: a TOTP code (its time step is spent, so the
//! code never works twice) or a recovery code (spent likewise). Counting
//! wrong ones in the login throttle is the caller's part.

use crate::audit::AuditEvent;
use crate::config::Config;
use crate::db::Stores;
use crate::error::ApiResult;
use crate::mfa::cipher::Cipher;
use crate::mfa::recovery;
use crate::mfa::store;
use crate::mfa::totp::{self, Code};
use crate::types::Timestamp;

/// Whether `code` is the user's current TOTP code, not used before; a right
/// code's time step is spent by this check. False when TOTP is not enabled;
/// 503 without `MFA_ENCRYPTION_KEY`.
pub async fn check_code(stores: &Stores, config: &Config, user_id: u64, code: &Code) -> ApiResult<bool> {
    let Some(enrolled) = store::totp(stores, user_id).await?.filter(|t| t.confirmed) else {
        return Ok(false);
    };
    let secret = Cipher::from_config(config)?.open(user_id, &enrolled.sealed)?;
    let now = u64::try_from(Timestamp::now().seconds()).unwrap_or(0);
    let Some(step) = totp::matching_step(&secret, code, now)? else {
        return Ok(false);
    };
    // A step at or before the last accepted one was used (or is older than a
    // code used since): refused without asking the store.
    if enrolled.last_step.is_some_and(|last| step <= last) {
        return Ok(false);
    }
    Ok(store::accept_step(stores, user_id, step).await?)
}

/// Whether `raw` is one of the user's unused recovery codes; a right one is
/// spent, with `event` (its use) in the same write. A code of the wrong shape
/// is a 422 on `field`.
pub async fn check_recovery(
    stores: &Stores,
    user_id: u64,
    field: &str,
    raw: &str,
    event: &AuditEvent,
) -> ApiResult<bool> {
    let normalized = recovery::normalize(field, raw)?;
    Ok(store::use_recovery(stores, user_id, &recovery::hash(&normalized), event).await?)
}
