//! A user's own second factors: enrolling and confirming TOTP, removing it,
//! new recovery codes, and what is enrolled. Each write carries its audit
//! event and then publishes the user's new state (`identity::factors_changed`).
//! Proving it is the user (the password or a current code) and counting
//! wrong proofs is the caller's part, before these.

use crate::audit::AuditEvent;
use crate::config::Config;
use crate::db::Stores;
use crate::error::{ApiError, ApiResult};
use crate::identity;
use crate::identity::user_cache::CachedUser;
use crate::mfa::cipher::Cipher;
use crate::mfa::store::{self, FactorError};
use crate::mfa::totp::{self, Code};
use crate::mfa::view::{MfaStatus, PasskeyView, TotpEnrolment};
use crate::mfa::{policy, recovery};
use crate::types::Timestamp;

fn totp_enabled() -> ApiError {
    ApiError::conflict("totp_enabled", "TOTP is already enabled; remove it first to enrol another authenticator")
}

fn totp_not_enabled() -> ApiError {
    ApiError::conflict("totp_not_enabled", "TOTP is not enabled")
}

fn gone() -> ApiError {
    ApiError::unauthorized("Not authenticated")
}

/// What `user` has enrolled, and whether their role must have a factor.
pub async fn status(stores: &Stores, config: &Config, user: &CachedUser) -> ApiResult<MfaStatus> {
    let found = store::factors(stores, user.id).await?;
    let totp = found.totp.as_ref().is_some_and(|t| t.confirmed);
    Ok(MfaStatus {
        totp,
        passkeys: found.passkeys.iter().map(PasskeyView::from).collect(),
        recovery_codes_left: if totp { found.recovery_left } else { 0 },
        required: policy::enrollment_due(config, user.role, false),
    })
}

/// Starts a TOTP enrolment: a new secret, stored sealed and unconfirmed
/// (replacing an unconfirmed one), shown once. 409 while TOTP is enabled;
/// 503 without `MFA_ENCRYPTION_KEY`.
pub async fn enrol_totp(
    stores: &Stores,
    config: &Config,
    user: &CachedUser,
    event: &AuditEvent,
) -> ApiResult<TotpEnrolment> {
    let cipher = Cipher::from_config(config)?;
    let secret = totp::new_secret();
    let sealed = cipher.seal(user.id, &secret)?;
    match store::put_pending_totp(stores, user.id, &sealed, event).await {
        Ok(()) => {}
        Err(FactorError::Conflict) => return Err(totp_enabled()),
        Err(FactorError::UserGone) => return Err(gone()),
        Err(FactorError::Store(e)) => return Err(e.into()),
    }
    let uri = totp::otpauth_uri(&secret, &user.username)?;
    Ok(TotpEnrolment { secret: totp::base32(&secret), qr_svg: totp::qr_svg(&uri)?, otpauth_uri: uri })
}

/// Confirms the pending enrolment with a code from the app: TOTP becomes
/// active (the code's time step counts as used) and ten recovery codes are
/// made, answered once. `None` for a wrong code (the caller counts it).
pub async fn confirm_totp(
    stores: &Stores,
    config: &Config,
    user_id: u64,
    code: &Code,
    event: &AuditEvent,
) -> ApiResult<Option<Vec<String>>> {
    let pending = match store::totp(stores, user_id).await? {
        None => {
            return Err(ApiError::conflict(
                "no_pending_totp",
                "No TOTP enrolment is waiting for confirmation; start one with POST /api/auth/mfa/totp",
            ));
        }
        Some(t) if t.confirmed => return Err(totp_enabled()),
        Some(t) => t,
    };
    let secret = Cipher::from_config(config)?.open(user_id, &pending.sealed)?;
    let now = u64::try_from(Timestamp::now().seconds()).unwrap_or(0);
    let Some(step) = totp::matching_step(&secret, code, now)? else {
        return Ok(None);
    };
    let codes = recovery::generate();
    let hashes = recovery::hashes(&codes)?;
    match store::confirm_totp(stores, user_id, &pending.sealed, step, &hashes, event).await {
        Ok(()) => {}
        Err(FactorError::Conflict) => {
            return Err(ApiError::conflict(
                "totp_changed",
                "The TOTP enrolment changed meanwhile (confirmed, or started again); check GET /api/auth/mfa",
            ));
        }
        Err(FactorError::UserGone) => return Err(gone()),
        Err(FactorError::Store(e)) => return Err(e.into()),
    }
    identity::factors_changed(stores, user_id).await?;
    Ok(Some(codes))
}

/// Removes TOTP and its recovery codes. 409 when it is not enabled.
pub async fn remove_totp(stores: &Stores, user_id: u64, event: &AuditEvent) -> ApiResult<()> {
    match store::remove_totp(stores, user_id, event).await {
        Ok(()) => {}
        Err(FactorError::Conflict) => return Err(totp_not_enabled()),
        Err(FactorError::UserGone) => return Err(gone()),
        Err(FactorError::Store(e)) => return Err(e.into()),
    }
    identity::factors_changed(stores, user_id).await?;
    Ok(())
}

/// Ten new recovery codes; the old ones stop working. 409 without TOTP.
pub async fn regenerate_recovery(stores: &Stores, user_id: u64, event: &AuditEvent) -> ApiResult<Vec<String>> {
    let codes = recovery::generate();
    let hashes = recovery::hashes(&codes)?;
    match store::replace_recovery(stores, user_id, &hashes, event).await {
        Ok(()) => Ok(codes),
        Err(FactorError::Conflict) => Err(totp_not_enabled()),
        Err(FactorError::UserGone) => Err(gone()),
        Err(FactorError::Store(e)) => Err(e.into()),
    }
}
