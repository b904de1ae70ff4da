//! Logging in with a passkey: passwordless, with a discoverable credential
//! whose user handle names the user (user verification required, so the
//! passkey is both factors at once), or as the second factor after a
//! password, with the user's own passkeys.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{DiscoverableAuthentication, DiscoverableKey, PasskeyAuthentication, PublicKeyCredential};

use super::ceremony::{self, Ceremony, CeremonyStarted, unknown_ceremony};
use super::rp::{RelyingParty, user_of_handle};
use super::{self as passkey, CREDENTIAL_ID_MAX, PasskeyRecord};
use crate::audit::activity;
use crate::audit::{self, ANONYMOUS_USERNAME, Outcome};
use crate::auth::ClientInfo;
use crate::crypto::{constant_time_eq, sha256_hex};
use crate::db::Stores;
use crate::error::{ApiError, ApiResult};
use crate::types::Timestamp;
use crate::users::{self, UserRecord};

/// Every refused assertion gets this answer, whatever the reason (unknown
/// key, bad signature, disabled account), as a wrong password does.
fn refused() -> ApiError {
    ApiError::Unauthorized { code: "invalid_credentials", detail: "The passkey was not accepted".into() }
}

/// The browser's answer to `navigator.credentials.get`; 422 when it is not one.
pub fn parse_assertion(credential: serde_json::Value) -> ApiResult<PublicKeyCredential> {
    serde_json::from_value(credential)
        .map_err(|e| ApiError::invalid("credential", format!("not a WebAuthn assertion (PublicKeyCredential): {e}")))
}

/// Begins a passwordless login: options with no allowed credentials (the
/// authenticator offers the passkeys it holds for this site), user
/// verification required.
pub async fn start(rp: &RelyingParty, stores: &Stores) -> ApiResult<CeremonyStarted> {
    let (mut options, state) =
        rp.webauthn.start_discoverable_authentication().map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    // The library marks the options for conditional mediation (autofill);
    // whether to use that or a button is the page's choice.
    options.mediation = None;
    let ceremony_id = ceremony::save(&stores.redis, Ceremony::Login, &state).await?;
    let options = serde_json::to_value(&options).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(CeremonyStarted { ceremony_id, options })
}

/// Finishes passwordless login `ceremony_id` with the browser's assertion:
/// the user it logs in (active, as read now) and the passkey, whose use and
/// signature counter are stored. The caller completes the login as a
/// password login is completed (recorded, audited, a session); a refused
/// assertion is audited and counted here.
pub async fn finish(
    rp: &RelyingParty,
    stores: &Stores,
    ceremony_id: &str,
    credential: serde_json::Value,
    client: &ClientInfo,
) -> ApiResult<(UserRecord, PasskeyRecord)> {
    let credential = parse_assertion(credential)?;
    let state: DiscoverableAuthentication =
        ceremony::take(&stores.redis, Ceremony::Login, ceremony_id).await?.ok_or_else(unknown_ceremony)?;
    let now = Timestamp::now();
    let (mut record, user) = match find(rp, stores, &credential).await? {
        Ok(found) => found,
        Err((reason, target)) => return Err(fail(stores, client, reason, target, now).await),
    };
    let target = format!("user:{} {}", user.id, user.username);
    let keys = [DiscoverableKey::from(&record.passkey)];
    let Ok(result) = rp.webauthn.finish_discoverable_authentication(&credential, state, &keys) else {
        return Err(fail(stores, client, "passkey_invalid", target, now).await);
    };
    if !user.is_active {
        return Err(fail(stores, client, "disabled", target, now).await);
    }
    record.passkey.update_credential(&result);
    passkey::record_use(stores, &record, now).await?;
    Ok((user, record))
}

/// The passkey and user an assertion names through its user handle and
/// credential id, or why not (a reason and a target for the audit event).
async fn find(
    rp: &RelyingParty,
    stores: &Stores,
    credential: &PublicKeyCredential,
) -> ApiResult<Result<(PasskeyRecord, UserRecord), (&'static str, String)>> {
    let unknown = |why: &'static str| Ok(Err((why, "passkey:(unknown)".to_owned())));
    let Ok((handle, raw_id)) = rp.webauthn.identify_discoverable_authentication(credential) else {
        return unknown("no_user_handle");
    };
    let Some(user_id) = user_of_handle(&handle) else {
        return unknown("unknown_passkey");
    };
    if raw_id.is_empty() || raw_id.len() > CREDENTIAL_ID_MAX {
        return unknown("unknown_passkey");
    }
    let Some(record) = passkey::get(stores, user_id, &passkey::credential_id(raw_id)).await? else {
        return Ok(Err(("unknown_passkey", format!("user:{user_id}"))));
    };
    let Some(user) = users::get(stores, user_id).await? else {
        return Ok(Err(("unknown_user", format!("user:{user_id}"))));
    };
    Ok(Ok((record, user)))
}

/// Records a refused passwordless login (audit, activity) and answers the
/// error to send.
async fn fail(stores: &Stores, client: &ClientInfo, reason: &'static str, target: String, now: Timestamp) -> ApiError {
    activity::record(&stores.redis, activity::Login::Failure, now).await;
    let event = client
        .event((ANONYMOUS_USERNAME.to_owned(), None), "auth.login", Outcome::Failure)
        .target(target)
        .reason(reason)
        .detail("passkey");
    if let Err(e) = audit::record(stores, &event).await {
        return e.into();
    }
    refused()
}

/// A second-factor ceremony's state: bound to the login's `mfa_token` (by
/// its hash, as the token itself is kept nowhere), so it finishes that
/// login only.
#[derive(Serialize, Deserialize)]
struct StepState {
    token_hash: String,
    state: PasskeyAuthentication,
}

/// Begins the second factor of user `user_id`'s login `mfa_token` (after a
/// right password): options that allow the user's own passkeys.
pub async fn start_second_factor(
    rp: &RelyingParty,
    stores: &Stores,
    user_id: u64,
    mfa_token: &str,
) -> ApiResult<CeremonyStarted> {
    let keys: Vec<_> = passkey::list(stores, user_id).await?.into_iter().map(|r| r.passkey).collect();
    if keys.is_empty() {
        return Err(ApiError::invalid("mfa_token", "this account has no passkey; see `methods` in the login answer"));
    }
    let (options, state) =
        rp.webauthn.start_passkey_authentication(&keys).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    let step = StepState { token_hash: sha256_hex(mfa_token), state };
    let ceremony_id = ceremony::save(&stores.redis, Ceremony::SecondFactor(user_id), &step).await?;
    let options = serde_json::to_value(&options).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(CeremonyStarted { ceremony_id, options })
}

/// A second-factor ceremony, taken (so used up) for one check.
pub struct PendingStep(PasskeyAuthentication);

/// Takes ceremony `ceremony_id` of user `user_id`'s login `mfa_token`; 422
/// when it is unknown, expired, used, or another login's.
pub async fn take_second_factor(
    stores: &Stores,
    user_id: u64,
    mfa_token: &str,
    ceremony_id: &str,
) -> ApiResult<PendingStep> {
    let step: StepState = ceremony::take(&stores.redis, Ceremony::SecondFactor(user_id), ceremony_id)
        .await?
        .ok_or_else(unknown_ceremony)?;
    if !constant_time_eq(&step.token_hash, &sha256_hex(mfa_token)) {
        return Err(unknown_ceremony());
    }
    Ok(PendingStep(step.state))
}

/// Whether `credential` is a right assertion of one of user `user_id`'s
/// passkeys for `step`; a right one's use and signature counter are stored.
/// Counting and auditing a wrong one is the caller's part (the login
/// throttle, as for a wrong code).
pub async fn check_second_factor(
    rp: &RelyingParty,
    stores: &Stores,
    user_id: u64,
    credential: &PublicKeyCredential,
    step: PendingStep,
) -> ApiResult<bool> {
    let Ok(result) = rp.webauthn.finish_passkey_authentication(credential, &step.0) else {
        return Ok(false);
    };
    // A passkey deleted (or reset by an admin) since the ceremony began no longer counts.
    let Some(mut record) = passkey::get(stores, user_id, &passkey::credential_id(result.cred_id())).await? else {
        return Ok(false);
    };
    record.passkey.update_credential(&result);
    passkey::record_use(stores, &record, Timestamp::now()).await?;
    Ok(true)
}
