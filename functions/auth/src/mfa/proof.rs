//! Proving, for a change of one's own factors, that it is the user and not
//! only their session: the current password (argon2, off the async threads)
//! or a current TOTP code (its time step is spent). Wrong proofs count in the
//! login throttle like wrong passwords at login, before they are checked, so
//! a stolen session cannot guess faster than a login could.

use serde::Deserialize;
use shared::audit::{self, Outcome};
use shared::auth::throttle;
use shared::auth::{Caller, ClientInfo};
use shared::identity::user_cache::CachedUser;
use shared::mfa::totp::Code;
use shared::mfa::verify;
use shared::types::Timestamp;
use shared::users;
use shared::{ApiError, ApiResult, AppState};

/// `{password}` or `{code}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ProofBody {
    /// The current password.
    #[serde(default)]
    password: Option<String>,
    /// The current code of the authenticator app.
    #[serde(default)]
    code: Option<String>,
}

/// `{password}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    /// The current password.
    password: String,
}

/// A proof of who the caller is.
pub enum Proof {
    Password(String),
    Code(Code),
}

impl ProofBody {
    /// Exactly one of the two, well formed; a 422 otherwise.
    pub fn proof(self) -> ApiResult<Proof> {
        match (self.password, self.code) {
            (Some(password), None) => Ok(Proof::Password(password)),
            (None, Some(code)) => Ok(Proof::Code(Code::parse("code", &code)?)),
            (None, None) => Err(ApiError::invalid("password", "the current password or a code is required")),
            (Some(_), Some(_)) => Err(ApiError::invalid("password", "give the password or a code, not both")),
        }
    }
}

impl PasswordBody {
    pub fn proof(self) -> Proof {
        Proof::Password(self.password)
    }
}

/// Checks `proof` for `user`; a wrong one is counted, audited as a failed
/// `action` and answered 403 (`wrong_password` or `wrong_code`).
pub async fn prove(
    state: &AppState,
    client: &ClientInfo,
    caller: &Caller,
    user: &CachedUser,
    proof: &Proof,
    action: &'static str,
) -> ApiResult<()> {
    let redis = &state.stores.redis;
    let limits = &state.config.login_throttle;
    let now = Timestamp::now();
    let name_key = user.username.to_ascii_lowercase();
    let reservation = throttle::reserve_proof(redis, limits, &name_key, &client.addr, now.millis()).await?;
    let checked = async {
        match proof {
            Proof::Password(password) => {
                let record = users::get(&state.stores, user.id)
                    .await?
                    .ok_or_else(|| ApiError::unauthorized("Not authenticated"))?;
                state.keys.passwords.verify(password, Some(&record.password_hash)).await
            }
            Proof::Code(code) => verify::check_code(&state.stores, &state.config, user.id, code).await,
        }
    };
    let right = match checked.await {
        Ok(right) => right,
        Err(e) => {
            throttle::cancel(redis, reservation).await;
            return Err(e);
        }
    };
    if right {
        throttle::succeed(redis, reservation).await?;
        return Ok(());
    }
    throttle::fail(redis, limits, reservation).await?;
    let (reason, refusal) = match proof {
        Proof::Password(_) => ("wrong_password", ApiError::forbidden("wrong_password", "The password is incorrect")),
        Proof::Code(_) => ("wrong_code", ApiError::forbidden("wrong_code", "The code is wrong or was used already")),
    };
    let event = client.event(caller.actor(), action, Outcome::Failure).target(super::target(user)).reason(reason);
    audit::record(&state.stores, &event).await?;
    Err(refusal)
}
