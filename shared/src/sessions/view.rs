//! A live session as the API shows it: to its owner and to admins.

use serde::Serialize;

use super::store::SessionRecord;
use crate::types::Timestamp;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// The id the `DELETE …/sessions/{id}` routes take.
    id: String,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    expires_at: Timestamp,
    /// The client's address when the session started.
    client: String,
    user_agent: String,
    /// Whether it is the session of the request that lists it (only when the
    /// owner lists their own sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = bool)]
    current: Option<bool>,
}

impl SessionView {
    /// `session` as its owner sees it, from a request authenticated by the
    /// session `own` (if any).
    pub fn for_owner(session: &SessionRecord, own: Option<&str>) -> Self {
        Self { current: Some(own == Some(session.hash.as_str())), ..Self::for_admin(session) }
    }

    /// `session` as an admin sees another user's.
    pub fn for_admin(session: &SessionRecord) -> Self {
        Self {
            id: session.public_id().to_owned(),
            created_at: Timestamp::from_millis(session.created_at_ms),
            last_seen_at: Timestamp::from_millis(session.last_seen_at_ms),
            expires_at: Timestamp::from_millis(session.expires_at_ms),
            client: session.client.clone(),
            user_agent: session.user_agent.clone(),
            current: None,
        }
    }
}
