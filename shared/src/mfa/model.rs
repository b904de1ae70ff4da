//! What a user's second factors look like from outside the factor items: the
//! summary kept on the user record (and in the cached user), so login and the
//! enrolment policy know whether a factor is due without reading the factors.

use serde::Serialize;

/// Which second factors a user has. Stored on the user item as `mfa_totp`
/// (BOOL) and `mfa_passkeys` (N), absent for users from before second factors
/// (read as none). Every enable or disable of a factor changes it in the same
/// transaction as the factor's item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MfaSummary {
    /// A confirmed TOTP authenticator.
    pub totp: bool,
    /// How many passkeys are registered.
    pub passkeys: u32,
}

impl MfaSummary {
    /// Whether any second factor is enrolled.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// A way to pass the second step of a login, as `mfa_required` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A code from the authenticator app (`code` at `POST /api/auth/login/mfa`).
    Totp,
    /// A passkey assertion (`/api/auth/login/webauthn/*`).
    Webauthn,
    /// One of the recovery codes (`recovery_code` at `POST /api/auth/login/mfa`).
    Recovery,
}

impl MfaSummary {
    /// The ways a user with these factors can pass the second step.
    pub fn methods(&self) -> Vec<Method> {
        let mut methods = Vec::new();
        if self.totp {
            methods.push(Method::Totp);
        }
        if self.passkeys > 0 {
            methods.push(Method::Webauthn);
        }
        if self.totp {
            // Recovery codes come with the authenticator app and go with it.
            methods.push(Method::Recovery);
        }
        methods
    }
}
