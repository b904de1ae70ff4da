//! A Redis cache of what authorization needs to know about a user (role,
//! activity, names), so an authenticated request reads no DynamoDB in steady
//! state. Writers store the new state with its version; a reader that missed
//! fills the cache only if nobody did meanwhile, so a stale read can never
//! overwrite a newer write.

use std::sync::LazyLock;

use crate::db::StoreError;
use crate::db::Stores;
use crate::db::kv::Redis;
use crate::groups::{self, GroupRef};
use crate::types::Role;
use crate::types::Timestamp;
use crate::users::UserRecord;
use crate::users::{UserKind, UserView};
use redis::Script;
use serde::{Deserialize, Serialize};

/// How long an entry lives without being refreshed.
pub const TTL_SECS: u64 = 600;

/// The cached part of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedUser {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at_ms: i64,
    pub last_login_at_ms: Option<i64>,
    /// Deleted users are cached as tombstones until their entry expires.
    #[serde(default)]
    pub deleted: bool,
    /// The user's groups (names as of when the entry was written).
    #[serde(default)]
    pub groups: Vec<GroupRef>,
    pub v: u64,
    /// The credential generation (see `UserRecord::epoch`): a session born in
    /// another generation is refused.
    #[serde(default)]
    pub epoch: u64,
    /// Whether the user has a second factor (see `mfa::MfaSummary`), so the
    /// enrolment policy (`MFA_REQUIRED_ROLE`) is judged without another read.
    /// Entries from before second factors read as none, which they had.
    #[serde(default)]
    pub mfa: bool,
    /// A person or a service account, so handlers refuse the latter what
    /// only people do (a login, a second factor, their own tokens) without
    /// a DynamoDB read. Entries from before service accounts are people.
    #[serde(default)]
    pub kind: UserKind,
}

impl CachedUser {
    /// The entry for `user` in `groups` (see [`load`] to look the names up).
    pub fn from_record(user: &UserRecord, groups: Vec<GroupRef>) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            is_active: user.is_active,
            created_at_ms: user.created_at.millis(),
            last_login_at_ms: user.last_login_at.map(Timestamp::millis),
            deleted: false,
            groups,
            v: user.version,
            epoch: user.epoch,
            mfa: user.mfa.any(),
            kind: user.kind,
        }
    }

    /// The entry of a deleted user: refused until it expires.
    pub fn tombstone(user: &UserRecord) -> Self {
        Self {
            deleted: true,
            is_active: false,
            v: user.version + 1,
            epoch: user.epoch + 1,
            ..Self::from_record(user, Vec::new())
        }
    }

    /// The groups this user manages, as far as the role allows: manager
    /// rights need the `user` role (a viewer's flag is dormant) and an active
    /// account. Read from the entry, so deciding costs no DynamoDB read.
    pub fn managed_groups(&self) -> Vec<u64> {
        if self.deleted || !self.is_active || !self.role.at_least(Role::User) {
            return Vec::new();
        }
        self.groups.iter().filter(|g| g.manager).map(|g| g.id).collect()
    }

    /// Whether this user manages group `id` (see [`CachedUser::managed_groups`]).
    pub fn manages(&self, id: u64) -> bool {
        self.managed_groups().contains(&id)
    }

    /// Whether this is a service account (see `users::UserKind`).
    pub fn is_service(&self) -> bool {
        self.kind.is_service()
    }

    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            is_active: self.is_active,
            created_at: Some(Timestamp::from_millis(self.created_at_ms)),
            last_login_at: self.last_login_at_ms.map(Timestamp::from_millis),
            kind: self.kind,
        }
    }
}

/// The entry for `user`, with its groups' names (and which of them the user
/// manages) read in one batch.
pub async fn load(stores: &Stores, user: &UserRecord) -> Result<CachedUser, StoreError> {
    let groups = if user.group_ids.is_empty() {
        Vec::new()
    } else {
        groups::refs_of_member(stores, user.id, &user.group_ids).await?
    };
    Ok(CachedUser::from_record(user, groups))
}

/// The entry of user `id`, in the user's slot (see `db::keys::user_tag`).
pub fn key(redis: &Redis, id: u64) -> String {
    redis.key(&format!("user:{}", crate::db::keys::user_tag(id)))
}

/// Stores `user` unless the cache already holds the same or a newer version.
static PUT_NEWER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"#!lua
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, decoded = pcall(cjson.decode, cur)
  if ok and tonumber(decoded.v) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
",
    )
});

/// Writer side: after a change in DynamoDB, publish the new state.
pub async fn put(redis: &Redis, user: &CachedUser) -> Result<(), StoreError> {
    let json = serde_json::to_string(user).map_err(|e| StoreError::Internal(e.into()))?;
    let mut invocation = PUT_NEWER.prepare_invoke();
    invocation.key(key(redis, user.id)).arg(json).arg(user.v).arg(TTL_SECS);
    let _: i64 = redis.invoke(&invocation).await?;
    Ok(())
}

/// Reader side: fill a miss, unless a writer got there first.
pub async fn fill(redis: &Redis, user: &CachedUser) -> Result<(), StoreError> {
    let json = serde_json::to_string(user).map_err(|e| StoreError::Internal(e.into()))?;
    let mut cmd = redis::cmd("SET");
    cmd.arg(key(redis, user.id)).arg(json).arg("NX").arg("EX").arg(TTL_SECS);
    let _: Option<String> = redis.query(&cmd).await?;
    Ok(())
}

/// Drops an entry, so the next request reads DynamoDB (after a failed write
/// that had pre-published its state).
pub async fn invalidate(redis: &Redis, id: u64) -> Result<(), StoreError> {
    redis.query::<i64>(redis::cmd("DEL").arg(key(redis, id))).await.map(|_| ())
}

/// Parses a cached entry; a corrupt one counts as a miss.
pub fn parse(raw: Option<&str>) -> Option<CachedUser> {
    raw.and_then(|r| serde_json::from_str(r).ok())
}

/// Re-publishes a user's state after a change that bumped its version
/// elsewhere (a membership); a user that is gone is left alone.
pub async fn refresh(stores: &Stores, user_id: u64) -> Result<(), StoreError> {
    if let Some(user) = crate::users::get(stores, user_id).await? {
        put(&stores.redis, &load(stores, &user).await?).await?;
    }
    Ok(())
}
