//! Users in the `identity` table.
//!
//! Key layout: a user is `USER#<id>`/`USER` (people listed through `gsi1pk =
//! USERS`, service accounts through `gsi1pk = SERVICE_ACCOUNTS`, so each list
//! pages over its own kind only);
//! the case-folded username is reserved by `USERNAME#<name>`/`USERNAME`; counters
//! live under `COUNTER` (`user_id`: the last id handed out, so ids are never
//! reused; `active_admins`: the number of active admins, the last-admin guard).
//! Every write that can break uniqueness or the admin count is one transaction.

use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built, unless_gone};
use crate::db::item::{Item, b, get_b, get_n, get_s, key, n, number_set, opt_n, opt_s, s};
use crate::mfa::MfaSummary;
use crate::types::Role;
use crate::types::Timestamp;
use crate::users::{UserKind, UserView};

/// The index partition listing people (`GET /api/auth/users`).
const PEOPLE: &str = "USERS";
/// The index partition listing service accounts (`GET /api/auth/service-accounts`).
const SERVICE_ACCOUNTS: &str = "SERVICE_ACCOUNTS";

fn listed_under(kind: UserKind) -> &'static str {
    match kind {
        UserKind::Human => PEOPLE,
        UserKind::Service => SERVICE_ACCOUNTS,
    }
}

/// A stored user, including what the API never shows.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    /// Empty when the user has no password (single sign-on users; service
    /// accounts, whose item holds no hash at all).
    pub password_hash: String,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    /// Bumped by every change of role, activity or profile, so caches keep the newest.
    pub version: u64,
    /// When the user last made an authenticated request (at most a minute stale).
    pub last_seen_at: Option<Timestamp>,
    /// The groups the user is in.
    pub group_ids: Vec<u64>,
    /// The credential generation: bumped by a password change or reset, a
    /// deactivation and a deletion. Every session is stamped with the
    /// generation it was born in and dies when the user's moves on, however
    /// the login raced the change.
    pub epoch: u64,
    /// Which second factors the user has (none for users from before them).
    pub mfa: MfaSummary,
    /// A person or a service account (stored as `kind` only for the latter).
    pub kind: UserKind,
    /// The admin who created this service account (`None` for people, and
    /// for one created with the admin secret).
    pub created_by: Option<u64>,
    /// The group owning this service account, if any (it is a member too).
    pub owner_group_id: Option<u64>,
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
            kind: self.kind,
        }
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let role = get_s(item, "role")?;
        let kind = match opt_s(item, "kind").as_deref() {
            None | Some("human") => UserKind::Human,
            Some("service") => UserKind::Service,
            Some(other) => return Err(StoreError::Internal(anyhow::anyhow!("stored user kind {other:?}"))),
        };
        Ok(Self {
            id: get_n(item, "id")?,
            username: get_s(item, "username")?,
            display_name: get_s(item, "display_name")?,
            role: role.parse().map_err(|()| StoreError::Internal(anyhow::anyhow!("stored role {role:?}")))?,
            is_active: get_b(item, "is_active")?,
            password_hash: opt_s(item, "password_hash").unwrap_or_default(),
            created_at: Timestamp::from_millis(get_n(item, "created_at_ms")?),
            last_login_at: opt_n(item, "last_login_at_ms").map(Timestamp::from_millis),
            version: get_n(item, "version")?,
            last_seen_at: opt_n(item, "last_seen_at_ms").map(Timestamp::from_millis),
            group_ids: number_set(item, "group_ids"),
            epoch: opt_n(item, "cred_epoch").unwrap_or(0),
            mfa: MfaSummary {
                totp: item.get("mfa_totp").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
                passkeys: opt_n(item, "mfa_passkeys").unwrap_or(0),
            },
            kind,
            created_by: opt_n(item, "created_by"),
            owner_group_id: opt_n(item, "owner_group_id"),
        })
    }

    /// The user's item (also written in batches by the bench's scale seeder,
    /// `bench/src/scale.rs`, so its users are stored exactly as these).
    pub fn to_item(&self) -> Item {
        let mut item = key(user_pk(self.id), "USER");
        item.extend([
            ("gsi1pk".to_owned(), s(listed_under(self.kind))),
            ("gsi1sk".to_owned(), s(format!("{:020}", self.id))),
            ("id".to_owned(), n(self.id)),
            ("username".to_owned(), s(&self.username)),
            ("username_key".to_owned(), s(self.username.to_ascii_lowercase())),
            ("display_name".to_owned(), s(&self.display_name)),
            ("role".to_owned(), s(self.role.as_str())),
            ("is_active".to_owned(), b(self.is_active)),
            ("created_at_ms".to_owned(), n(self.created_at.millis())),
            ("version".to_owned(), n(self.version)),
            ("cred_epoch".to_owned(), n(self.epoch)),
            ("mfa_totp".to_owned(), b(self.mfa.totp)),
            ("mfa_passkeys".to_owned(), n(self.mfa.passkeys)),
        ]);
        if !self.group_ids.is_empty() {
            let ids = self.group_ids.iter().map(u64::to_string).collect();
            item.insert("group_ids".to_owned(), aws_sdk_dynamodb::types::AttributeValue::Ns(ids));
        }
        match self.kind {
            // A person's hash is stored even when empty (single sign-on users):
            // the identity unlink's guard compares it (`oidc::store::unlink`).
            UserKind::Human => {
                item.insert("password_hash".to_owned(), s(&self.password_hash));
            }
            // A service account has no password at all, so no write that
            // conditions on a hash can ever match it (`record_login`).
            UserKind::Service => {
                item.insert("kind".to_owned(), s(self.kind.as_str()));
                if let Some(admin) = self.created_by {
                    item.insert("created_by".to_owned(), n(admin));
                }
                if let Some(group) = self.owner_group_id {
                    item.insert("owner_group_id".to_owned(), n(group));
                }
            }
        }
        item
    }
}

/// The counter of users holding `role` (for the admin statistics; the bench's
/// scale seeder adds its users to it).
pub fn role_counter(role: Role) -> String {
    format!("role:{role}")
}

/// `ADD value :delta` on an identity counter, as a transaction action.
pub(super) fn counter_add(stores: &Stores, counter: &str, delta: i64) -> Result<TransactWriteItem, StoreError> {
    dynamo::counter_action(&stores.tables.identity, counter, delta)
}

/// Takes one from the active-admin count, refusing to reach zero: the
/// last-admin guard, enforced by DynamoDB even under concurrent requests.
pub(super) fn admin_count_down(stores: &Stores) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key("COUNTER", "active_admins")))
            .update_expression("ADD #v :minus")
            .condition_expression("#v > :one")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":one", n(1))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}

pub use crate::db::keys::user_pk;

/// The key of the reservation of case-folded username `name_key` (public for
/// the bench's scale seeder, which writes reservations in batches).
pub fn username_pk(name_key: &str) -> String {
    format!("USERNAME#{name_key}")
}

/// What a new user is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub group_ids: Vec<u64>,
}

/// What a new service account carries beyond a [`NewUser`] (whose password
/// hash it ignores).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceOrigin {
    pub created_by: Option<u64>,
    pub owner_group_id: Option<u64>,
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
    /// The extra action at this index (see [`create`]) failed its condition.
    #[error("extra action {0} failed")]
    Extra(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a user, its username reservation, the admin count (for active admins)
/// and the audit event in one transaction, together with the `extra` actions
/// (built once the id is known: an invitation's use, group memberships).
pub async fn create(
    stores: &Stores,
    new: NewUser,
    guard: CreateGuard,
    audit: impl FnOnce(&UserRecord) -> AuditEvent,
    extra: impl FnOnce(&UserRecord) -> Result<Vec<TransactWriteItem>, StoreError>,
) -> Result<UserRecord, CreateError> {
    create_kind(stores, new, None, guard, audit, extra).await
}

/// Creates a service account as [`create`] creates a person: the same
/// username namespace (its reservation is the same item), no password.
pub async fn create_service_account(
    stores: &Stores,
    new: NewUser,
    origin: ServiceOrigin,
    audit: impl FnOnce(&UserRecord) -> AuditEvent,
    extra: impl FnOnce(&UserRecord) -> Result<Vec<TransactWriteItem>, StoreError>,
) -> Result<UserRecord, CreateError> {
    create_kind(stores, new, Some(origin), CreateGuard::None, audit, extra).await
}

async fn create_kind(
    stores: &Stores,
    new: NewUser,
    service: Option<ServiceOrigin>,
    guard: CreateGuard,
    audit: impl FnOnce(&UserRecord) -> AuditEvent,
    extra: impl FnOnce(&UserRecord) -> Result<Vec<TransactWriteItem>, StoreError>,
) -> Result<UserRecord, CreateError> {
    let id = dynamo::next_id(&stores.dynamo, &stores.tables.identity, "user_id").await?;
    let origin = service.unwrap_or_default();
    let user = UserRecord {
        id,
        username: new.username,
        display_name: new.display_name,
        role: new.role,
        is_active: true,
        password_hash: if service.is_some() { String::new() } else { new.password_hash },
        created_at: Timestamp::now(),
        last_login_at: None,
        version: 1,
        last_seen_at: None,
        group_ids: new.group_ids,
        epoch: 0,
        mfa: MfaSummary::default(),
        kind: if service.is_some() { UserKind::Service } else { UserKind::Human },
        created_by: origin.created_by,
        owner_group_id: origin.owner_group_id,
    };
    let table = &stores.tables.identity;
    let mut reservation = key(username_pk(&user.username.to_ascii_lowercase()), "USERNAME");
    reservation.insert("user_id".into(), n(id));
    let mut items = vec![dynamo::put_new(table, user.to_item())?, dynamo::put_new(table, reservation)?];
    if user.role == Role::Admin {
        let update = match guard {
            CreateGuard::FirstAdmin => Update::builder()
                .update_expression("SET #v = :one")
                .condition_expression("attribute_not_exists(#v) OR #v = :zero")
                .expression_attribute_values(":zero", n(0)),
            CreateGuard::None => Update::builder().update_expression("ADD #v :one"),
        };
        let update = built(
            update
                .table_name(table)
                .set_key(Some(key("COUNTER", "active_admins")))
                .expression_attribute_names("#v", "value")
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        items.push(TransactWriteItem::builder().update(update).build());
    }
    items.push(counter_add(stores, &role_counter(user.role), 1)?);
    let event = audit(&user);
    items.push(event.transact_put(stores)?);
    let extra_start = items.len();
    items.extend(extra(&user)?);
    let extra_end = items.len();

    match actor::transact(stores, items).await {
        Ok(()) => Ok(user),
        Err(failure) => match failure {
            Failure::TransactionCanceled(reasons) => {
                let failed = |i: usize| reasons.get(i).is_some_and(|r| r == "ConditionalCheckFailed");
                if let Some(i) = (extra_start..extra_end).find(|i| failed(*i)) {
                    Err(CreateError::Extra(i - extra_start))
                } else if failed(1) {
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
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, user_pk(id), "USER").await?;
    item.as_ref().map(UserRecord::from_item).transpose()
}

/// The user whose case-folded username is `name_key`, if any.
pub async fn find_by_username(stores: &Stores, name_key: &str) -> Result<Option<UserRecord>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, username_pk(name_key), "USERNAME").await?;
    match item.as_ref().map(|i| get_n::<u64>(i, "user_id")).transpose()? {
        Some(id) => get(stores, id).await,
        None => Ok(None),
    }
}

/// How many active admins exist.
pub async fn active_admins(stores: &Stores) -> Result<u64, StoreError> {
    Ok(u64::try_from(counter(stores, "active_admins").await?).unwrap_or(0))
}

/// Records a successful login time, on the condition that the credentials
/// that were checked are still the user's: the same password hash, still
/// active, the same credential generation. Returns the updated user (its
/// version bumped, so caches take the new state; its generation is the one
/// to stamp on the session), or `None` if any of that changed meanwhile: a
/// login that raced a password change, a reset, a deactivation or a deletion
/// fails as if it had come after it.
pub async fn record_login(
    stores: &Stores,
    verified: &UserRecord,
    at: Timestamp,
) -> Result<Option<UserRecord>, StoreError> {
    let result = stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(user_pk(verified.id), "USER")))
        .update_expression("SET last_login_at_ms = :t ADD version :one")
        .condition_expression(
            "password_hash = :h AND is_active = :active AND (attribute_not_exists(cred_epoch) OR cred_epoch = :e)",
        )
        .expression_attribute_values(":h", s(&verified.password_hash))
        .expression_attribute_values(":active", b(true))
        .expression_attribute_values(":e", n(verified.epoch))
        .expression_attribute_values(":t", n(at.millis()))
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    match unless_gone(result)? {
        Some(out) => out.attributes().map(UserRecord::from_item).transpose(),
        None => Ok(None),
    }
}

/// Reads one counter (0 when it was never written).
pub async fn counter(stores: &Stores, name: &str) -> Result<i64, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, "COUNTER".into(), name).await?;
    Ok(item.and_then(|i| opt_n(&i, "value")).unwrap_or(0))
}

/// How many users hold each role.
pub async fn role_counts(stores: &Stores) -> Result<Vec<(Role, i64)>, StoreError> {
    let mut counts = Vec::new();
    for role in [Role::Viewer, Role::User, Role::Operator, Role::Admin] {
        counts.push((role, counter(stores, &role_counter(role)).await?));
    }
    Ok(counts)
}

/// One page of people (service accounts are listed by
/// [`list_service_accounts`]), newest first, and the id to continue after.
pub async fn list(
    stores: &Stores,
    limit: usize,
    after: Option<u64>,
) -> Result<(Vec<UserRecord>, Option<u64>), StoreError> {
    list_kind(stores, UserKind::Human, limit, after).await
}

/// One page of service accounts, newest first, and the id to continue after.
pub async fn list_service_accounts(
    stores: &Stores,
    limit: usize,
    after: Option<u64>,
) -> Result<(Vec<UserRecord>, Option<u64>), StoreError> {
    list_kind(stores, UserKind::Service, limit, after).await
}

/// Each kind has its own index partition, so a page holds `limit` of that
/// kind and its cursor is an id of that kind: no filtering after the read.
async fn list_kind(
    stores: &Stores,
    kind: UserKind,
    limit: usize,
    after: Option<u64>,
) -> Result<(Vec<UserRecord>, Option<u64>), StoreError> {
    let partition = listed_under(kind);
    let start = after.map(|id| dynamo::index_key(user_pk(id), "USER", partition, format!("{id:020}")));
    let (items, more) =
        dynamo::index_page(&stores.dynamo, &stores.tables.identity, partition, false, limit, start).await?;
    let users = items.iter().map(UserRecord::from_item).collect::<Result<Vec<_>, _>>()?;
    let next = if more && users.len() == limit { users.last().map(|u| u.id) } else { None };
    Ok((users, next))
}

/// When each user was last seen (written at most once a minute per user).
pub async fn touch_last_seen(stores: &Stores, id: u64, at: Timestamp) -> Result<(), StoreError> {
    dynamo::touch(&stores.dynamo, &stores.tables.identity, user_pk(id), "USER", "last_seen_at_ms", at).await
}

/// The users of `ids` that exist, by id ascending, in batch reads of up to 100
/// (strongly consistent): names for lists that show many users at once.
pub async fn get_many(stores: &Stores, ids: &[u64]) -> Result<Vec<UserRecord>, StoreError> {
    let keys = ids.iter().map(|id| key(user_pk(*id), "USER")).collect();
    let items = dynamo::batch_get(&stores.dynamo, &stores.tables.identity, keys).await?;
    let mut users = items.iter().map(UserRecord::from_item).collect::<Result<Vec<_>, _>>()?;
    users.sort_by_key(|u| u.id);
    Ok(users)
}
