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
    /// What it may do (docs/tokens.md); `["inherit"]`: all the owner's rights.
    scopes: Vec<String>,
    /// The only objects it may act on; empty: no limit.
    resources: Vec<String>,
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
            scopes: t.grant.scopes.names(),
            resources: t.grant.resources.names(),
        }
    }
}

/// A token in the admin's list of every token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminTokenView {
    #[serde(flatten)]
    token: TokenView,
    user_id: u64,
    /// Empty if the owner is gone.
    username: String,
    /// `human` or `service`.
    owner_kind: String,
    /// Whether it lives longer than `TOKEN_MAX_LIFETIME_DAYS` allows a new
    /// token to (made before the cap, or never expiring while a cap is set).
    past_cap: bool,
}

impl AdminTokenView {
    pub fn new(t: &TokenRecord, username: String, owner_kind: &str, cap_days: Option<u32>) -> Self {
        Self {
            token: TokenView::from(t),
            user_id: t.user_id,
            username,
            owner_kind: owner_kind.to_owned(),
            past_cap: past_cap(t, cap_days),
        }
    }
}

/// Whether `t` outlives the cap: its whole life (creation to expiry, or
/// forever) is longer than `cap_days`.
pub fn past_cap(t: &TokenRecord, cap_days: Option<u32>) -> bool {
    let Some(cap) = cap_days else {
        return false;
    };
    let cap_end = t.created_at.plus_secs(i64::from(cap) * 86_400);
    t.expires_at.is_none_or(|e| e > cap_end)
}
