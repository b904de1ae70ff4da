//! Changes of a user record with the user cache kept in step: read, plan,
//! publish, write, publish again, retried while other writes race.

use super::user_cache::{self, CachedUser};
use crate::audit::AuditEvent;
use crate::db::{StoreError, Stores};
use crate::users::{self, Planned, UpdateError, UserChange, UserRecord};

/// How many times a write racing other writes to the same user is re-tried.
const ATTEMPTS: usize = 12;

/// Applies `change` with optimistic concurrency (the user's version must not
/// move under us; re-read and retry if it does), keeping the admin count and
/// the role counts exact and writing the audit event in the same transaction.
/// `prepare` runs before each write attempt (guards, the audit event); its
/// error aborts the update.
///
/// The change reaches the user cache that authentication reads, so it takes
/// effect on the user's next request everywhere. A restrictive change
/// (demotion, deactivation) is published *before* the DynamoDB write: a
/// failure between the two can leave the user with less access, never more;
/// if the write then fails, the entry is dropped so the next read refills it.
pub async fn update<E>(
    stores: &Stores,
    id: u64,
    change: &UserChange,
    mut prepare: impl FnMut(Planned<'_>) -> Result<AuditEvent, E>,
) -> Result<Result<UserRecord, UpdateError>, E> {
    for _ in 0..ATTEMPTS {
        let before = match read(stores, id).await {
            Ok(user) => user,
            Err(e) => return Ok(Err(e)),
        };
        let Some(after) = change.apply(&before) else {
            return Ok(Ok(before));
        };
        let event = prepare(Planned { before: &before, after: Some(&after) })?;
        // A new credential generation (deactivation, promotion into the
        // roles that need a second factor) ends sessions: restrictive too.
        let restrictive =
            after.role < before.role || (before.is_active && !after.is_active) || after.epoch != before.epoch;
        let cached = match user_cache::load(stores, &after).await {
            Ok(cached) => cached,
            Err(e) => return Ok(Err(e.into())),
        };
        let written = publish_around(stores, &cached, restrictive, async {
            users::write_update(stores, &before, &after, &event).await
        })
        .await;
        if !matches!(written, Err(UpdateError::Contended)) {
            return Ok(written.map(|()| after));
        }
        back_off().await;
    }
    Ok(Err(UpdateError::Contended))
}

/// Replaces the password hash, with its audit event, atomically, and moves
/// the credential generation on (so every session born before, including
/// one whose login raced this change, stops working). The new state reaches
/// the user cache before the write (see [`update`]). `NotFound` when the user
/// no longer exists.
pub async fn set_password(
    stores: &Stores,
    id: u64,
    password_hash: &str,
    audit: &AuditEvent,
) -> Result<UserRecord, UpdateError> {
    for _ in 0..ATTEMPTS {
        let before = read(stores, id).await?;
        let mut after = before.clone();
        after.password_hash = password_hash.to_owned();
        after.version = before.version + 1;
        after.epoch = before.epoch + 1;
        let cached = user_cache::load(stores, &after).await?;
        let written = publish_around(stores, &cached, true, async {
            users::write_password(stores, &before, &after, audit).await
        })
        .await;
        if !matches!(written, Err(UpdateError::Contended)) {
            return written.map(|()| after);
        }
        back_off().await;
    }
    Err(UpdateError::Contended)
}

/// Deletes the user record (see `users::write_delete`); access ends first:
/// the user's cache entry becomes a tombstone before the write.
pub(super) async fn delete<E>(
    stores: &Stores,
    id: u64,
    mut prepare: impl FnMut(Planned<'_>) -> Result<AuditEvent, E>,
) -> Result<Result<UserRecord, UpdateError>, E> {
    for _ in 0..ATTEMPTS {
        let before = match read(stores, id).await {
            Ok(user) => user,
            Err(e) => return Ok(Err(e)),
        };
        let event = prepare(Planned { before: &before, after: None })?;
        let result = publish_around(stores, &CachedUser::tombstone(&before), true, async {
            users::write_delete(stores, &before, &event).await
        })
        .await;
        if !matches!(result, Err(UpdateError::Contended)) {
            return Ok(result.map(|()| before));
        }
        back_off().await;
    }
    Ok(Err(UpdateError::Contended))
}

/// The user's record as it is now, read again before each attempt.
async fn read(stores: &Stores, id: u64) -> Result<UserRecord, UpdateError> {
    users::get(stores, id).await?.ok_or(UpdateError::NotFound)
}

/// Runs `write` with the cache publication around it (see [`update`]).
async fn publish_around(
    stores: &Stores,
    state: &CachedUser,
    restrictive: bool,
    write: impl Future<Output = Result<(), UpdateError>>,
) -> Result<(), UpdateError> {
    let redis = &stores.redis;
    if restrictive {
        user_cache::put(redis, state).await?;
    }
    match write.await {
        Ok(()) => {
            if let Err(e) = user_cache::put(redis, state).await {
                // The write is done and DynamoDB is the truth; an unrefreshed entry
                // expires by itself and errs on the side of less access.
                tracing::warn!(error = %e, user_id = state.id, "could not publish a user change to the cache");
            }
            Ok(())
        }
        Err(err) => {
            if restrictive && let Err(e) = user_cache::invalidate(redis, state.id).await {
                tracing::warn!(error = %e, user_id = state.id, "could not drop a pre-published cache entry");
            }
            Err(err)
        }
    }
}

/// A short random pause before retrying a write that lost a race, so the
/// racers do not collide again in lockstep.
async fn back_off() {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
    tokio::time::sleep(std::time::Duration::from_millis(5 + jitter)).await;
}

/// After a login or registration: publish the user's current state, so the
/// next request needs no DynamoDB read.
pub async fn signed_in(stores: &Stores, user: &UserRecord) -> Result<(), StoreError> {
    user_cache::put(&stores.redis, &user_cache::load(stores, user).await?).await
}

/// The user's current state for authorization: from the cache when the
/// lookup found it there, else from DynamoDB (and then cached, unless a
/// writer got there first). `None` for a user that does not exist.
pub async fn current(
    stores: &Stores,
    user_id: u64,
    cached: Option<CachedUser>,
) -> Result<Option<CachedUser>, StoreError> {
    if let Some(user) = cached {
        return Ok(Some(user));
    }
    // Boxed: the DynamoDB read's state machine is large, and inline it would
    // be copied around with every warm request's future too.
    Box::pin(async {
        let Some(record) = users::get(stores, user_id).await? else {
            return Ok(None);
        };
        let user = user_cache::load(stores, &record).await?;
        user_cache::fill(&stores.redis, &user).await?;
        Ok(Some(user))
    })
    .await
}
