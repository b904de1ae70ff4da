//! Schemas of the answers the groups handlers build as JSON values (the
//! OpenAPI document's view of them; schemathesis checks real answers against them).

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]

/// `DELETE /api/auth/groups/{id}`.
#[derive(utoipa::ToSchema)]
pub struct GroupDeleted {
    message: String,
    members_removed: u64,
}

/// `PUT /api/auth/groups/{id}/members/{user_id}`.
#[derive(utoipa::ToSchema)]
pub struct MemberAdded {
    message: String,
    /// False when the user was a member already.
    added: bool,
}
