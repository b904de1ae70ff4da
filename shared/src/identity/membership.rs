//! Group changes that change what users may do (a member's groups grant VPS
//! access and travel in the cached user), with the members' cache entries
//! brought in step here.

use super::user_cache;
use crate::audit::AuditEvent;
use crate::db::Stores;
use crate::groups::{self, Group, GroupError};
use crate::vps;

/// Adds `user_id` to the group; `false` if it was a member already.
pub async fn join_group(stores: &Stores, group_id: u64, user_id: u64, event: &AuditEvent) -> Result<bool, GroupError> {
    let added = groups::add_member(stores, group_id, user_id, event).await?;
    user_cache::refresh(stores, user_id).await?;
    Ok(added)
}

/// Removes `user_id` from the group; `false` if it was not a member.
pub async fn leave_group(stores: &Stores, group_id: u64, user_id: u64, event: &AuditEvent) -> Result<bool, GroupError> {
    let removed = groups::remove_member(stores, group_id, user_id, Some(event)).await?;
    if removed {
        user_cache::refresh(stores, user_id).await?;
    }
    Ok(removed)
}

/// Renames or re-describes a group. A rename reaches the members' cached group
/// names at once (their entries are dropped); a member whose entry a
/// concurrent request refills from a read made just before the rename shows
/// the old name for at most the cache's lifetime.
pub async fn change_group(
    stores: &Stores,
    id: u64,
    name: Option<&str>,
    description: Option<&str>,
    event: &AuditEvent,
) -> Result<Group, GroupError> {
    let group = groups::update(stores, id, name, description, event).await?;
    if name.is_some() {
        for member in groups::member_ids(stores, id).await? {
            user_cache::invalidate(&stores.redis, member).await?;
        }
    }
    Ok(group)
}

/// Deletes a group: its VPS assignments first (access through the group ends
/// before the group does), then its memberships and the group itself; returns
/// how many members it had.
pub async fn delete_group(stores: &Stores, id: u64, event: &AuditEvent) -> Result<usize, GroupError> {
    vps::unassign_everywhere(stores, vps::Assignee::Group(id)).await?;
    let removed = groups::delete(stores, id, event).await?;
    for member in &removed {
        user_cache::refresh(stores, *member).await?;
    }
    Ok(removed.len())
}

/// Makes `user_id` a manager of the group (a member too, if they were not);
/// their cached groups say so at once.
pub async fn make_manager(
    stores: &Stores,
    group_id: u64,
    user_id: u64,
    event: &AuditEvent,
) -> Result<groups::Made, GroupError> {
    let made = groups::make_manager(stores, group_id, user_id, event).await?;
    user_cache::refresh(stores, user_id).await?;
    Ok(made)
}

/// Ends `user_id`'s management of the group; `false` if they were no manager.
pub async fn unmake_manager(
    stores: &Stores,
    group_id: u64,
    user_id: u64,
    event: &AuditEvent,
) -> Result<bool, GroupError> {
    let ended = groups::unmake_manager(stores, group_id, user_id, event).await?;
    if ended {
        user_cache::refresh(stores, user_id).await?;
    }
    Ok(ended)
}

/// The group (the lowest id) that `manager` manages and user `member_id` is
/// a member of, if any: what lets a manager act on that user's tasks. Reads
/// the member's record (the manager's groups come with their cached entry).
pub async fn managed_group_of(
    stores: &Stores,
    manager: &user_cache::CachedUser,
    member_id: u64,
) -> Result<Option<u64>, crate::db::StoreError> {
    let managed = manager.managed_groups();
    if managed.is_empty() {
        return Ok(None);
    }
    let Some(member) = crate::users::get(stores, member_id).await? else {
        return Ok(None);
    };
    Ok(managed.into_iter().filter(|g| member.group_ids.contains(g)).min())
}

/// The members of the groups `group_ids` (one query per group).
pub async fn members_of(
    stores: &Stores,
    group_ids: &[u64],
) -> Result<std::collections::HashSet<u64>, crate::db::StoreError> {
    let mut members = std::collections::HashSet::new();
    for id in group_ids {
        members.extend(groups::member_ids(stores, *id).await?);
    }
    Ok(members)
}
