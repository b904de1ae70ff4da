//! Invitations as the API shows them: listed (never the code), and once,
//! when created, with the code and its link.

use std::collections::HashMap;

use serde::Serialize;

use crate::db::{StoreError, Stores};
use crate::groups::{self, GroupRef};
use crate::invitations::Invitation;
use crate::types::{Role, Timestamp};

/// An invitation as listed: never the code (only its stored hash exists), a
/// short prefix to recognise it by, and the original dashboard's field names
/// (`usage_count`, `max_usage`) next to the new ones.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    id: u64,
    role: Role,
    groups: Vec<GroupRef>,
    max_uses: u64,
    uses: u64,
    remaining_uses: u64,
    max_usage: u64,
    usage_count: u64,
    expires_at: Timestamp,
    is_valid: bool,
    created_by: String,
    created_at: Timestamp,
    code_prefix: String,
    /// The original dashboard's column: in a list, the code's first
    /// characters and an ellipsis (codes are stored hashed; the whole code is
    /// shown once, when the invitation is created); at creation, the code.
    token: String,
}

impl InvitationView {
    /// `inv` with `groups`, the names of its groups (those that still exist).
    pub fn new(inv: &Invitation, groups: Vec<GroupRef>, now: Timestamp) -> Self {
        Self {
            id: inv.id,
            role: inv.role,
            groups,
            max_uses: inv.max_uses,
            uses: inv.uses,
            remaining_uses: inv.remaining_uses(),
            max_usage: inv.max_uses,
            usage_count: inv.uses,
            expires_at: inv.expires_at,
            is_valid: inv.is_valid(now),
            created_by: inv.created_by.clone(),
            created_at: inv.created_at,
            code_prefix: inv.code_prefix.clone(),
            token: format!("{}…", inv.code_prefix),
        }
    }

    /// The view of `inv`, with the names of its groups.
    pub async fn read(stores: &Stores, inv: &Invitation) -> Result<Self, StoreError> {
        let groups = if inv.group_ids.is_empty() { Vec::new() } else { groups::refs(stores, &inv.group_ids).await? };
        Ok(Self::new(inv, groups, Timestamp::now()))
    }

    /// The views of `invitations`, in order, with the names of all their
    /// groups read in one batch read.
    pub async fn read_all(stores: &Stores, invitations: &[Invitation]) -> Result<Vec<Self>, StoreError> {
        let mut ids: Vec<u64> = invitations.iter().flat_map(|i| i.group_ids.iter().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        let found = if ids.is_empty() { Vec::new() } else { groups::refs(stores, &ids).await? };
        let names: HashMap<u64, GroupRef> = found.into_iter().map(|g| (g.id, g)).collect();
        let now = Timestamp::now();
        let view = |inv: &Invitation| {
            let mut groups: Vec<GroupRef> = inv.group_ids.iter().filter_map(|id| names.get(id).cloned()).collect();
            groups.sort_by_key(|g| g.id);
            groups.dedup_by_key(|g| g.id);
            Self::new(inv, groups, now)
        };
        Ok(invitations.iter().map(view).collect())
    }
}

/// A new invitation: the listed view plus the code, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    #[schema(inline)]
    #[serde(flatten)]
    invitation: InvitationView,
    code: String,
    register_url: String,
}

impl CreatedInvitation {
    /// `invitation` with its `code` and the link that registers with it.
    pub fn new(invitation: InvitationView, code: String, register_url: String) -> Self {
        let mut invitation = invitation;
        invitation.token.clone_from(&code);
        Self { invitation, code, register_url }
    }
}
