//! Second factors as the API shows them. Never a secret but the one shown
//! once at enrolment (the TOTP secret, the recovery codes).

use serde::Serialize;

use crate::mfa::store::PasskeyEntry;
use crate::types::Timestamp;

/// `GET /api/auth/mfa`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MfaStatus {
    /// A confirmed authenticator app.
    pub totp: bool,
    pub passkeys: Vec<PasskeyView>,
    /// Unused recovery codes (they come with TOTP).
    pub recovery_codes_left: usize,
    /// Whether the user's role must have a second factor (`MFA_REQUIRED_ROLE`).
    pub required: bool,
}

/// A registered passkey.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    /// The credential id (base64url).
    pub id: String,
    pub name: String,
    pub created_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl From<&PasskeyEntry> for PasskeyView {
    fn from(entry: &PasskeyEntry) -> Self {
        Self {
            id: entry.id.clone(),
            name: entry.name.clone(),
            created_at: entry.created_at,
            last_used_at: entry.last_used_at,
        }
    }
}

/// `POST /api/auth/mfa/totp`: what the authenticator app needs, shown once.
/// TOTP is not active until a code from it is confirmed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/KohakuRiver:<username>?secret=…&issuer=KohakuRiver…`.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

/// New recovery codes, shown once: each works once, in place of a code.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}
