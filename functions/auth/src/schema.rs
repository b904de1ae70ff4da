//! Schemas of the answers the auth handlers build as JSON values (the OpenAPI
//! document's view of them; schemathesis checks real answers against them).

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]
use shared::types::Timestamp;
use shared::users::UserView;

/// `GET /api/auth/status`.
#[derive(utoipa::ToSchema)]
pub struct AuthStatus {
    auth_enabled: bool,
    /// Null while authentication is disabled.
    session_expire_hours: Option<u32>,
    version: String,
}

/// A login or registration: the user, and for a new session its expiry (an
/// admin creating someone starts no session, so there is none then).
#[derive(utoipa::ToSchema)]
pub struct SessionStarted {
    message: String,
    user: UserView,
    #[schema(required = false)]
    expires_at: Timestamp,
}
