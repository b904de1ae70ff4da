//! The state of a WebAuthn ceremony between its start and its finish, kept in
//! Redis (any instance, a Lambda included, can finish what another began)
//! under a random id the client carries from one call to the other. It lives
//! five minutes and is taken with `GETDEL`: whatever the finish's outcome, a
//! ceremony is used once, so a captured finish cannot be replayed.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::StoreError;
use crate::db::keys::user_tag;
use crate::db::kv::Redis;
use crate::error::ApiError;

/// How long a ceremony may take, as long as the browser is told to wait.
pub const TTL_SECS: u64 = 300;

/// Which ceremony, and so under which key its state lives.
#[derive(Debug, Clone, Copy)]
pub enum Ceremony {
    /// A registration by user `id`: under the user's hash tag, so only that
    /// user can finish it.
    Register(u64),
    /// A passwordless login: nobody is known yet.
    Login,
    /// The second factor after user `id`'s password: bound to the login's
    /// `mfa_token` by the state it keeps.
    SecondFactor(u64),
}

impl Ceremony {
    fn key(self, redis: &Redis, id: &str) -> String {
        match self {
            Self::Register(user) => redis.key(&format!("mfa:pkreg:{}:{id}", user_tag(user))),
            Self::Login => redis.key(&format!("mfa:pklogin:{id}")),
            Self::SecondFactor(user) => redis.key(&format!("mfa:pkstep:{}:{id}", user_tag(user))),
        }
    }
}

/// A ceremony begun: its id (to send back with the browser's answer) and
/// the options to hand to `navigator.credentials.create` or `.get`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CeremonyStarted {
    pub ceremony_id: String,
    /// WebAuthn options as JSON, binary values in base64url:
    /// `{"publicKey": {...}}`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// The answer to a finish whose ceremony is not (or no longer) there.
pub fn unknown_ceremony() -> ApiError {
    ApiError::invalid("ceremony_id", "unknown or expired ceremony (each lives 5 minutes and is used once); start again")
}

/// Whether `id` is of the form [`save`] hands out; others are not looked up.
fn well_formed(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Keeps `state` for [`TTL_SECS`] and answers the new ceremony's id.
pub async fn save<T: Serialize>(redis: &Redis, ceremony: Ceremony, state: &T) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let json = serde_json::to_string(state).map_err(|e| StoreError::Internal(e.into()))?;
    let mut cmd = redis::cmd("SET");
    cmd.arg(ceremony.key(redis, &id)).arg(json).arg("EX").arg(TTL_SECS);
    redis.query::<()>(&cmd).await?;
    Ok(id)
}

/// Takes the state of ceremony `id` (it is gone afterwards); `None` when it
/// is unknown, expired or taken already.
pub async fn take<T: DeserializeOwned>(redis: &Redis, ceremony: Ceremony, id: &str) -> Result<Option<T>, StoreError> {
    if !well_formed(id) {
        return Ok(None);
    }
    let mut cmd = redis::cmd("GETDEL");
    cmd.arg(ceremony.key(redis, id));
    let json: Option<String> = redis.query(&cmd).await?;
    json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Internal(anyhow::anyhow!("ceremony state: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_of_the_handed_out_form_are_looked_up() {
        assert!(well_formed(&uuid::Uuid::new_v4().simple().to_string()));
        for bad in ["", "abc", "../../etc", &"A".repeat(32), &"0".repeat(33), "0123456789abcdef0123456789abcdeg"] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
