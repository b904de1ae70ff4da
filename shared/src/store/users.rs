//! Users in the `identity` table.
//!
//! Key layout: a user is `USER#<id>`/`USER` (listed through `gsi1pk = USERS`);
//! the case-folded username is reserved by `USERNAME#<name>`/`USERNAME`; counters
//! live under `COUNTER` (`user_id`: the last id handed out, so ids are never
//! reused; `active_admins`: the number of active admins, the last-admin guard).
//! Every write that can break uniqueness or the admin count is one transaction.

use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem, Update};

use super::audit::AuditEvent;
use super::dynamo::{Failure, classify, store_error};
use super::item::{Item, b, get_b, get_n, get_s, key, n, opt_n, s};
use super::{StoreError, Stores};
use crate::model::{Role, Timestamp, UserView};

/// A stored user, including what the API never shows.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    pub password_hash: String,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    /// Bumped by every change of role, activity or profile, so caches keep the newest.
    pub version: u64,
}

impl UserRecord {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            is_active: self.is_active,
            created_at: Some(self.created_at),
            last_login_at: self.last_login_at,
        }
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let role = get_s(item, "role")?;
        Ok(Self {
            id: get_n(item, "id")?,
            username: get_s(item, "username")?,
            display_name: get_s(item, "display_name")?,
            role: role.parse().map_err(|()| StoreError::Internal(anyhow::anyhow!("stored role {role:?}")))?,
            is_active: get_b(item, "is_active")?,
            password_hash: get_s(item, "password_hash")?,
            created_at: Timestamp::from_millis(get_n(item, "created_at_ms")?),
            last_login_at: opt_n(item, "last_login_at_ms").map(Timestamp::from_millis),
            version: get_n(item, "version")?,
        })
    }

    fn to_item(&self) -> Item {
        let mut item = key(user_pk(self.id), "USER");
        item.extend([
            ("gsi1pk".to_owned(), s("USERS")),
            ("gsi1sk".to_owned(), s(format!("{:020}", self.id))),
            ("id".to_owned(), n(self.id)),
            ("username".to_owned(), s(&self.username)),
            ("username_key".to_owned(), s(self.username.to_ascii_lowercase())),
            ("display_name".to_owned(), s(&self.display_name)),
            ("role".to_owned(), s(self.role.as_str())),
            ("is_active".to_owned(), b(self.is_active)),
            ("password_hash".to_owned(), s(&self.password_hash)),
            ("created_at_ms".to_owned(), n(self.created_at.millis())),
            ("version".to_owned(), n(self.version)),
        ]);
        item
    }
}

pub fn user_pk(id: u64) -> String {
    format!("USER#{id}")
}

fn username_pk(name_key: &str) -> String {
    format!("USERNAME#{name_key}")
}

/// What a new user is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Extra conditions on creating a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateGuard {
    /// Only while no active admin exists (the register-secret bootstrap).
    FirstAdmin,
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("username taken")]
    UsernameTaken,
    #[error("an active admin exists")]
    AdminExists,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hands out the next user id. Ids burnt by a failed creation are never reused.
async fn next_id(stores: &Stores, counter: &str) -> Result<u64, StoreError> {
    let out = stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key("COUNTER", counter)))
        .update_expression("ADD #v :one")
        .expression_attribute_names("#v", "value")
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(store_error)?;
    out.attributes()
        .map(|a| get_n(a, "value"))
        .transpose()?
        .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("counter {counter} returned no value")))
}

fn build<T, E: Into<anyhow::Error>>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Internal(e.into()))
}

/// Creates a user, its username reservation, the admin count (for active admins)
/// and the audit event in one transaction.
pub async fn create(
    stores: &Stores,
    new: NewUser,
    guard: CreateGuard,
    audit: impl FnOnce(&UserRecord) -> AuditEvent,
    retention_days: u32,
) -> Result<UserRecord, CreateError> {
    let id = next_id(stores, "user_id").await?;
    let user = UserRecord {
        id,
        username: new.username,
        display_name: new.display_name,
        role: new.role,
        is_active: true,
        password_hash: new.password_hash,
        created_at: Timestamp::now(),
        last_login_at: None,
        version: 1,
    };
    let table = &stores.tables.identity;
    let put_user = build(
        Put::builder()
            .table_name(table)
            .set_item(Some(user.to_item()))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    let mut reservation = key(username_pk(&user.username.to_ascii_lowercase()), "USERNAME");
    reservation.insert("user_id".into(), n(id));
    let put_name = build(
        Put::builder()
            .table_name(table)
            .set_item(Some(reservation))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    let mut items =
        vec![TransactWriteItem::builder().put(put_user).build(), TransactWriteItem::builder().put(put_name).build()];
    if user.role == Role::Admin {
        let update = match guard {
            CreateGuard::FirstAdmin => Update::builder()
                .update_expression("SET #v = :one")
                .condition_expression("attribute_not_exists(#v) OR #v = :zero")
                .expression_attribute_values(":zero", n(0)),
            CreateGuard::None => Update::builder().update_expression("ADD #v :one"),
        };
        let update = build(
            update
                .table_name(table)
                .set_key(Some(key("COUNTER", "active_admins")))
                .expression_attribute_names("#v", "value")
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        items.push(TransactWriteItem::builder().update(update).build());
    }
    items.push(audit(&user).transact_put(stores, retention_days)?);

    match stores.dynamo.transact_write_items().set_transact_items(Some(items)).send().await {
        Ok(_) => Ok(user),
        Err(err) => match classify(err) {
            Failure::TransactionCanceled(reasons) => {
                let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
                if failed(1) {
                    Err(CreateError::UsernameTaken)
                } else if failed(2) && user.role == Role::Admin {
                    Err(CreateError::AdminExists)
                } else {
                    Err(StoreError::Internal(anyhow::anyhow!("user creation cancelled: {reasons:?}")).into())
                }
            }
            Failure::ConditionFailed => Err(CreateError::UsernameTaken),
            Failure::Store(e) => Err(e.into()),
        },
    }
}

/// The user with `id`, if any (strongly consistent).
pub async fn get(stores: &Stores, id: u64) -> Result<Option<UserRecord>, StoreError> {
    let out = stores
        .dynamo
        .get_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(id), "USER")))
        .consistent_read(true)
        .send()
        .await
        .map_err(store_error)?;
    out.item().map(UserRecord::from_item).transpose()
}

/// The user whose case-folded username is `name_key`, if any.
pub async fn find_by_username(stores: &Stores, name_key: &str) -> Result<Option<UserRecord>, StoreError> {
    let out = stores
        .dynamo
        .get_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(username_pk(name_key), "USERNAME")))
        .consistent_read(true)
        .send()
        .await
        .map_err(store_error)?;
    match out.item().map(|i| get_n::<u64>(i, "user_id")).transpose()? {
        Some(id) => get(stores, id).await,
        None => Ok(None),
    }
}

/// How many active admins exist.
pub async fn active_admins(stores: &Stores) -> Result<u64, StoreError> {
    let out = stores
        .dynamo
        .get_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key("COUNTER", "active_admins")))
        .consistent_read(true)
        .send()
        .await
        .map_err(store_error)?;
    Ok(out.item().and_then(|i| opt_n(i, "value")).unwrap_or(0))
}

/// Records a successful login time; returns the updated user (its version
/// bumped, so caches take the new state), or `None` if it was deleted meanwhile.
pub async fn record_login(stores: &Stores, id: u64, at: Timestamp) -> Result<Option<UserRecord>, StoreError> {
    let result = stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(id), "USER")))
        .update_expression("SET last_login_at_ms = :t ADD version :one")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":t", n(at.millis()))
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    match result {
        Ok(out) => out.attributes().map(UserRecord::from_item).transpose(),
        Err(err) => match classify(err) {
            Failure::ConditionFailed => Ok(None),
            Failure::Store(e) => Err(e),
            Failure::TransactionCanceled(r) => Err(StoreError::Internal(anyhow::anyhow!("unexpected: {r:?}"))),
        },
    }
}

/// Replaces the password hash, with its audit event, atomically. `false` when
/// the user no longer exists.
pub async fn set_password(
    stores: &Stores,
    id: u64,
    password_hash: &str,
    audit: &AuditEvent,
    retention_days: u32,
) -> Result<bool, StoreError> {
    let update = build(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(id), "USER")))
            .update_expression("SET password_hash = :h")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":h", s(password_hash))
            .build(),
    )?;
    let items = vec![TransactWriteItem::builder().update(update).build(), audit.transact_put(stores, retention_days)?];
    match stores.dynamo.transact_write_items().set_transact_items(Some(items)).send().await {
        Ok(_) => Ok(true),
        Err(err) => match classify(err) {
            Failure::TransactionCanceled(_) | Failure::ConditionFailed => Ok(false),
            Failure::Store(e) => Err(e),
        },
    }
}
