//! Deleting a user and everything that hangs off them.

use super::change;
use crate::audit::AuditEvent;
use crate::db::Stores;
use crate::users::{Planned, UpdateError, UserRecord};
use crate::{groups, mfa, oidc, sessions, tasks, tokens, vps};

/// What a deletion removed.
#[derive(Debug)]
pub struct Removed {
    pub user: UserRecord,
    pub sessions_ended: u64,
    pub tokens_revoked: usize,
}

/// Deletes the user (see `change::delete`: the cache tombstone refuses them
/// at once), then every way to act as them: sessions, API tokens, group
/// memberships, VPS assignments, second factors, linked identities. Their tasks stay, shown as owned by a deleted
/// user. The record's deletion is one transaction; the clean-up after it
/// spans both stores and cannot be: if a step fails the answer is a 503 while
/// the user is already gone and refused everywhere (what is left grants
/// nothing: tokens and sessions of a missing user are refused, a membership
/// or assignment of a missing user is never looked up by it).
pub async fn delete_user<E>(
    stores: &Stores,
    id: u64,
    prepare: impl FnMut(Planned<'_>) -> Result<AuditEvent, E>,
) -> Result<Result<Removed, UpdateError>, E> {
    let user = match change::delete(stores, id, prepare).await? {
        Ok(user) => user,
        Err(e) => return Ok(Err(e)),
    };
    let cleanup = async {
        let sessions_ended = sessions::end_all(&stores.redis, user.id, None).await?;
        let tokens_revoked = tokens::revoke_all_of(stores, user.id).await?;
        groups::leave_all(stores, user.id, &user.group_ids).await?;
        vps::unassign_everywhere(stores, vps::Assignee::User(user.id)).await?;
        tasks::mark_owner_deleted(stores, user.id).await?;
        mfa::store::delete_all_items(stores, user.id).await?;
        oidc::store::delete_all_of(stores, user.id).await?;
        Ok::<_, crate::db::StoreError>((sessions_ended, tokens_revoked))
    };
    Ok(match cleanup.await {
        Ok((sessions_ended, tokens_revoked)) => Ok(Removed { user, sessions_ended, tokens_revoked }),
        Err(e) => Err(UpdateError::Store(e)),
    })
}
