//! Redeeming an invitation: one transaction creates the user with the
//! invitation's role and groups, counts one use (so `max_uses` holds under any
//! number of concurrent registrations, and a refused one consumes nothing),
//! checks that the invitation's creator may still grant it, and records both
//! audit events.

use super::store::{Invitation, creator_check, use_action};
use crate::audit::AuditEvent;
use crate::db::Stores;
use crate::groups;
use crate::types::Timestamp;
use crate::users::{self, CreateError, CreateGuard, NewUser, UserRecord};

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// Used up, expired or revoked while the registration was under way.
    #[error("the invitation can no longer be used")]
    Unusable,
    /// Its creator no longer exists, is inactive or may no longer grant it.
    #[error("the invitation's creator can no longer grant it")]
    CreatorRevoked,
    /// A group of the invitation changed meanwhile.
    #[error("a group of the invitation changed")]
    GroupChanged,
    /// The user could not be created (a taken username, a store failure).
    #[error(transparent)]
    Create(#[from] CreateError),
}

impl From<crate::db::StoreError> for RedeemError {
    fn from(e: crate::db::StoreError) -> Self {
        Self::Create(e.into())
    }
}

/// Creates `new` (its role and groups are the invitation's; groups deleted
/// since the invitation was made are left out) as one use of `invitation`.
/// `registered` is the user's registration event; `used` describes the use,
/// once the new user's id is known.
pub async fn redeem(
    stores: &Stores,
    invitation: &Invitation,
    mut new: NewUser,
    registered: impl FnOnce(&UserRecord) -> AuditEvent,
    used: impl FnOnce(&UserRecord) -> AuditEvent,
) -> Result<UserRecord, RedeemError> {
    let now = Timestamp::now();
    let group_ids: Vec<u64> = groups::refs(stores, &invitation.group_ids).await?.into_iter().map(|g| g.id).collect();
    new.role = invitation.role;
    new.group_ids.clone_from(&group_ids);
    let creator_checks = creator_check(stores, invitation)?;
    let creator_range = 1..=creator_checks.len();
    let extra = |user: &UserRecord| {
        let mut actions = vec![use_action(stores, invitation, now)?];
        // From index 1 when present (invitations made with the admin secret have none).
        actions.extend(creator_checks);
        for gid in &group_ids {
            actions.extend(groups::join_actions(stores, *gid, user.id, false)?);
        }
        actions.push(used(user).transact_put(stores)?);
        Ok(actions)
    };
    match users::create(stores, new, CreateGuard::None, registered, extra).await {
        Ok(user) => Ok(user),
        Err(CreateError::Extra(0)) => Err(RedeemError::Unusable),
        Err(CreateError::Extra(i)) if creator_range.contains(&i) => Err(RedeemError::CreatorRevoked),
        Err(CreateError::Extra(_)) => Err(RedeemError::GroupChanged),
        Err(other) => Err(other.into()),
    }
}
