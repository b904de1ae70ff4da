//! Schemas of the answers the users handlers build as JSON values.

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]

/// `DELETE /api/auth/users/{id}`.
#[derive(utoipa::ToSchema)]
pub struct UserDeleted {
    message: String,
    sessions_ended: u64,
    tokens_revoked: u64,
}
