//! Schemas of the answers the invitations handlers build as JSON values (the
//! OpenAPI document's view of them; schemathesis checks real answers against them).

#![expect(dead_code, reason = "these types only describe JSON the handlers build")]

/// A new invitation: the listed view plus the code, shown once.
#[derive(utoipa::ToSchema)]
pub struct CreatedInvitation {
    #[schema(inline)]
    #[serde(flatten)]
    invitation: crate::list::InvitationView,
    code: String,
    /// The same code, under the original dashboard's name.
    token: String,
    register_url: String,
}
