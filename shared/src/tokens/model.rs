//! API tokens as the API lists them.

use serde::Serialize;

use crate::tokens::TokenRecord;
use crate::types::Timestamp;

/// A token in a list: never the secret, only a short prefix to recognise it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    id: u64,
    name: String,
    prefix: String,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
    /// The original CLI's name for `last_used_at`.
    last_used: Option<Timestamp>,
    expires_at: Option<Timestamp>,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            last_used: t.last_used_at,
            expires_at: t.expires_at,
        }
    }
}
