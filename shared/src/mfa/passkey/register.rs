//! Registering, renaming and deleting one's passkeys: the registration
//! ceremony (options out, the browser's answer back, checked against the
//! state kept in Redis) and the writes, each audited in its own transaction.

use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

use super::ceremony::{self, Ceremony, CeremonyStarted, unknown_ceremony};
use super::rp::{RelyingParty, user_handle};
use super::{self as passkey, CREDENTIAL_ID_MAX, MAX_PER_USER, NAME_MAX, PasskeyRecord, WriteError};
use crate::audit::{self, AuditEvent, Outcome};
use crate::db::{StoreError, Stores};
use crate::error::{ApiError, ApiResult};
use crate::identity;
use crate::identity::user_cache::CachedUser;
use crate::mfa::view::PasskeyView;
use crate::types::Timestamp;
use crate::users::parse_label;

fn too_many() -> ApiError {
    ApiError::invalid("credential", format!("at most {MAX_PER_USER} passkeys per user; delete one first"))
}

fn not_found() -> ApiError {
    ApiError::not_found("Passkey not found")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("webauthn: {e}"))
}

/// Begins registering a passkey for `user`. Its passkeys are excluded (an
/// authenticator holding one says so instead of making a second), and a
/// discoverable credential is asked for, so the passkey can also log in
/// without a username.
pub async fn start(rp: &RelyingParty, stores: &Stores, user: &CachedUser) -> ApiResult<CeremonyStarted> {
    let existing = passkey::list(stores, user.id).await?;
    if existing.len() >= MAX_PER_USER as usize {
        return Err(too_many());
    }
    let exclude = existing.iter().map(|p| p.passkey.cred_id().clone()).collect();
    let (options, state) = rp
        .webauthn
        .start_passkey_registration(user_handle(user.id), &user.username, &user.display_name, Some(exclude))
        .map_err(internal)?;
    let mut options = serde_json::to_value(&options).map_err(internal)?;
    // The library leaves residence to the authenticator; asking for it makes
    // the passkey discoverable wherever the authenticator can keep one (the
    // registration does not depend on it: a security key without room still
    // serves as a second factor).
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(|s| s.as_object_mut()) {
        selection.insert("residentKey".into(), "preferred".into());
    }
    let ceremony_id = ceremony::save(&stores.redis, Ceremony::Register(user.id), &state).await?;
    Ok(CeremonyStarted { ceremony_id, options })
}

/// Finishes registration `ceremony_id` of user `user_id` with the browser's
/// answer and stores the passkey as `name`. `event` is the audit event to
/// record (its target and outcome are filled in here); a refused answer is
/// audited as a failure.
pub async fn finish(
    rp: &RelyingParty,
    stores: &Stores,
    user_id: u64,
    ceremony_id: &str,
    name: &str,
    credential: serde_json::Value,
    event: AuditEvent,
) -> ApiResult<PasskeyView> {
    let name = parse_label("name", name, NAME_MAX)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential).map_err(|e| {
        ApiError::invalid("credential", format!("not a WebAuthn registration response (PublicKeyCredential): {e}"))
    })?;
    let state: PasskeyRegistration =
        ceremony::take(&stores.redis, Ceremony::Register(user_id), ceremony_id).await?.ok_or_else(unknown_ceremony)?;
    let verified = rp.webauthn.finish_passkey_registration(&credential, &state);
    let key = match verified {
        Ok(key) if key.cred_id().len() <= CREDENTIAL_ID_MAX => key,
        refused => {
            let why = match refused {
                Ok(_) => format!("credential ids longer than {CREDENTIAL_ID_MAX} bytes are not accepted"),
                Err(e) => e.to_string(),
            };
            let mut failed = event.target(format!("user:{user_id}")).reason("passkey_rejected");
            failed.outcome = Outcome::Failure;
            audit::record(stores, &failed).await?;
            return Err(ApiError::invalid("credential", format!("the passkey was not accepted: {why}")));
        }
    };
    let record = PasskeyRecord {
        user_id,
        id: passkey::credential_id(key.cred_id()),
        name,
        created_at: Timestamp::now(),
        last_used_at: None,
        passkey: key,
    };
    let event = event.target(target(&record));
    match passkey::add(stores, &record, &event).await {
        Ok(()) => {}
        Err(WriteError::TooMany) => return Err(too_many()),
        Err(WriteError::Duplicate) => {
            return Err(ApiError::conflict("passkey_exists", "This passkey is registered already"));
        }
        Err(WriteError::UserGone) => return Err(StoreError::ActorRevoked.into()),
        Err(WriteError::NotFound) => return Err(not_found()),
        Err(WriteError::Store(e)) => return Err(e.into()),
    }
    identity::factors_changed(stores, user_id).await?;
    Ok(record.view())
}

/// Renames one of the user's passkeys (404 for anyone else's).
pub async fn rename(stores: &Stores, user_id: u64, id: &str, name: &str, event: AuditEvent) -> ApiResult<PasskeyView> {
    let name = parse_label("name", name, NAME_MAX)?;
    let mut record = passkey::get(stores, user_id, id).await?.ok_or_else(not_found)?;
    let event = event.target(target(&record)).detail(format!("name {:?} → {name:?}", record.name));
    match passkey::rename(stores, user_id, id, &name, &event).await {
        Ok(()) => {}
        Err(WriteError::NotFound) => return Err(not_found()),
        Err(WriteError::Store(e)) => return Err(e.into()),
        Err(other) => return Err(ApiError::Internal(other.into())),
    }
    record.name = name;
    Ok(record.view())
}

/// Deletes one of the user's passkeys (404 for anyone else's); answers its
/// name.
pub async fn delete(stores: &Stores, user_id: u64, id: &str, event: AuditEvent) -> ApiResult<String> {
    let record = passkey::get(stores, user_id, id).await?.ok_or_else(not_found)?;
    let event = event.target(target(&record));
    match passkey::remove(stores, user_id, id, &event).await {
        Ok(()) => {}
        Err(WriteError::NotFound) => return Err(not_found()),
        Err(WriteError::UserGone) => return Err(StoreError::ActorRevoked.into()),
        Err(WriteError::Store(e)) => return Err(e.into()),
        Err(other) => return Err(ApiError::Internal(other.into())),
    }
    identity::factors_changed(stores, user_id).await?;
    Ok(record.name)
}

/// How audit events name a passkey.
fn target(record: &PasskeyRecord) -> String {
    format!("passkey:{} {} of user:{}", record.id, record.name, record.user_id)
}
