//! Invitation codes in the `invitations` table.
//!
//! Key layout: an invitation is `INV#<sha256(code)>`/`INV` (listed through
//! `gsi1pk = INVITATIONS`), found by id through `INVID#<id>`/`INVID`; ids come
//! from `COUNTER`/`invitation_id`. Only the code's hash is stored. A use is a
//! conditional increment (`uses < max_uses`, not expired) that runs in the same
//! transaction as the user's creation, so `max_uses` holds under any number of
//! concurrent registrations, and a registration that fails (a taken username)
//! consumes nothing.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::crypto::{random_token, sha256_hex};
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, get_n, get_s, key, n, opt_n, opt_s, s};
use crate::groups;
use crate::types::Role;
use crate::types::Timestamp;

/// What every invitation code starts with.
pub const PREFIX: &str = "inv_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub id: u64,
    pub role: Role,
    pub group_ids: Vec<u64>,
    pub max_uses: u64,
    pub uses: u64,
    pub expires_at: Timestamp,
    pub created_by: String,
    pub created_by_id: Option<u64>,
    pub created_at: Timestamp,
    /// The first characters of the code, to recognise it in a list.
    pub code_prefix: String,
    /// Made by a manager of this group (its only group), on the strength of
    /// that: the creator must still manage it when the invitation is used.
    pub manager_group: Option<u64>,
    #[serde(skip)]
    pub hash: String,
}

impl Invitation {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let role = get_s(item, "role")?;
        Ok(Self {
            id: get_n(item, "id")?,
            role: role.parse().map_err(|()| StoreError::Internal(anyhow::anyhow!("stored role {role:?}")))?,
            group_ids: groups::ids_of(item),
            max_uses: get_n(item, "max_uses")?,
            uses: opt_n(item, "uses").unwrap_or(0),
            expires_at: Timestamp::from_millis(get_n(item, "expires_at_ms")?),
            created_by: get_s(item, "created_by")?,
            created_by_id: opt_n(item, "created_by_id"),
            created_at: Timestamp::from_millis(get_n(item, "created_at_ms")?),
            code_prefix: opt_s(item, "code_prefix").unwrap_or_default(),
            manager_group: opt_n(item, "manager_group"),
            hash: get_s(item, "hash")?,
        })
    }

    pub fn remaining_uses(&self) -> u64 {
        self.max_uses.saturating_sub(self.uses)
    }

    pub fn is_valid(&self, now: Timestamp) -> bool {
        self.expires_at > now && self.uses < self.max_uses
    }

    /// The least role that may create this invitation: operators invite
    /// viewers into no group; a group's manager (`manager_group`) invites
    /// users and viewers into it with the `user` role (and the flag, see
    /// [`creator_check`]); anything more is an admin's to give. The creator
    /// must still hold it when the invitation is used.
    pub fn creator_must_hold(role: Role, group_ids: &[u64], manager_group: Option<u64>) -> Role {
        if manager_group.is_some() && !role.at_least(Role::Operator) {
            Role::User
        } else if role == Role::Viewer && group_ids.is_empty() {
            Role::Operator
        } else {
            Role::Admin
        }
    }
}

fn inv_pk(hash: &str) -> String {
    format!("INV#{hash}")
}

fn id_pk(id: u64) -> String {
    format!("INVID#{id}")
}

/// What a new invitation is made of.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub role: Role,
    pub group_ids: Vec<u64>,
    pub max_uses: u64,
    pub expires_at: Timestamp,
    pub created_by: String,
    pub created_by_id: Option<u64>,
    /// See [`Invitation::manager_group`].
    pub manager_group: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("group {0} not found")]
    GroupNotFound(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates an invitation; every group it names must exist. Returns the code
/// (shown once) and the invitation.
pub async fn create(
    stores: &Stores,
    new: NewInvitation,
    audit: impl FnOnce(&Invitation) -> AuditEvent,
) -> Result<(String, Invitation), InvitationError> {
    let table = &stores.tables.invitations;
    let id = dynamo::next_id(&stores.dynamo, table, "invitation_id").await?;
    let code = format!("{PREFIX}{}", random_token(32));
    let invitation = Invitation {
        id,
        role: new.role,
        group_ids: new.group_ids,
        max_uses: new.max_uses,
        uses: 0,
        expires_at: new.expires_at,
        created_by: new.created_by,
        created_by_id: new.created_by_id,
        created_at: Timestamp::now(),
        code_prefix: code.chars().take(PREFIX.len() + 4).collect(),
        manager_group: new.manager_group,
        hash: sha256_hex(&code),
    };
    let mut item = key(inv_pk(&invitation.hash), "INV");
    item.extend([
        ("gsi1pk".to_owned(), s("INVITATIONS")),
        ("gsi1sk".to_owned(), s(format!("{id:020}"))),
        ("id".to_owned(), n(id)),
        ("role".to_owned(), s(invitation.role.as_str())),
        ("max_uses".to_owned(), n(invitation.max_uses)),
        ("uses".to_owned(), n(0)),
        ("expires_at_ms".to_owned(), n(invitation.expires_at.millis())),
        ("created_by".to_owned(), s(&invitation.created_by)),
        ("created_at_ms".to_owned(), n(invitation.created_at.millis())),
        ("code_prefix".to_owned(), s(&invitation.code_prefix)),
        ("hash".to_owned(), s(&invitation.hash)),
        // Expired invitations are swept by DynamoDB a month after they lapse.
        ("ttl".to_owned(), n(invitation.expires_at.seconds() + 30 * 86_400)),
    ]);
    if let Some(by) = invitation.created_by_id {
        item.insert("created_by_id".into(), n(by));
    }
    if let Some(group_id) = invitation.manager_group {
        item.insert("manager_group".into(), n(group_id));
    }
    if !invitation.group_ids.is_empty() {
        item.insert("group_ids".into(), AttributeValue::Ns(invitation.group_ids.iter().map(u64::to_string).collect()));
    }
    let mut by_id = key(id_pk(id), "INVID");
    by_id.insert("hash".into(), s(&invitation.hash));
    let mut items = vec![dynamo::put_new(table, item)?, dynamo::put_new(table, by_id)?];
    for gid in &invitation.group_ids {
        items.push(groups::exists_check(stores, *gid)?);
    }
    items.push(audit(&invitation).transact_put(stores)?);
    match actor::transact(stores, items).await {
        Ok(()) => Ok((code, invitation)),
        Err(failure) => match failure {
            Failure::TransactionCanceled(reasons) => {
                let missing = invitation
                    .group_ids
                    .iter()
                    .enumerate()
                    .find(|(i, _)| reasons.get(i + 2).is_some_and(|r| r == "ConditionalCheckFailed"))
                    .map(|(_, gid)| *gid);
                match missing {
                    Some(gid) => Err(InvitationError::GroupNotFound(gid)),
                    None => {
                        Err(StoreError::Internal(anyhow::anyhow!("invitation creation cancelled: {reasons:?}")).into())
                    }
                }
            }
            Failure::ConditionFailed => Err(StoreError::Internal(anyhow::anyhow!("invitation id collision")).into()),
            Failure::Store(e) => Err(e.into()),
        },
    }
}

/// The invitation a code names, if any.
pub async fn find_by_code(stores: &Stores, code: &str) -> Result<Option<Invitation>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.invitations, inv_pk(&sha256_hex(code)), "INV").await?;
    item.as_ref().map(Invitation::from_item).transpose()
}

/// The invitation with `id`, if any.
pub async fn get(stores: &Stores, id: u64) -> Result<Option<Invitation>, StoreError> {
    let table = &stores.tables.invitations;
    let Some(pointer) = dynamo::get_item(&stores.dynamo, table, id_pk(id), "INVID").await? else {
        return Ok(None);
    };
    let hash = get_s(&pointer, "hash")?;
    let item = dynamo::get_item(&stores.dynamo, table, inv_pk(&hash), "INV").await?;
    item.as_ref().map(Invitation::from_item).transpose()
}

/// One page of invitations, newest first, and the id to continue after.
pub async fn list(
    stores: &Stores,
    limit: usize,
    after: Option<u64>,
) -> Result<(Vec<Invitation>, Option<u64>), StoreError> {
    let start = match after {
        None => None,
        Some(id) => get(stores, id)
            .await?
            .map(|inv| dynamo::index_key(inv_pk(&inv.hash), "INV", "INVITATIONS", format!("{id:020}"))),
    };
    let table = &stores.tables.invitations;
    let (items, more) = dynamo::index_page(&stores.dynamo, table, "INVITATIONS", false, limit, start).await?;
    let found = items.iter().map(Invitation::from_item).collect::<Result<Vec<_>, _>>()?;
    let next = if more && found.len() == limit { found.last().map(|i| i.id) } else { None };
    Ok((found, next))
}

/// Deletes an invitation (its code stops working at once). `false`: already gone.
pub async fn revoke(stores: &Stores, invitation: &Invitation, audit: &AuditEvent) -> Result<bool, StoreError> {
    let table = &stores.tables.invitations;
    let remove = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key(inv_pk(&invitation.hash), "INV")))
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    let pointer = built(Delete::builder().table_name(table).set_key(Some(key(id_pk(invitation.id), "INVID"))).build())?;
    let items = vec![
        TransactWriteItem::builder().delete(remove).build(),
        TransactWriteItem::builder().delete(pointer).build(),
        audit.transact_put(stores)?,
    ];
    match actor::transact(stores, items).await {
        Ok(()) => Ok(true),
        Err(failure) => match failure {
            Failure::TransactionCanceled(_) | Failure::ConditionFailed => Ok(false),
            Failure::Store(e) => Err(e),
        },
    }
}

/// The action that fails unless the invitation's creator still exists, is
/// active and may still create it (`None` for invitations made with the admin
/// secret, which has no user record). Checked at every use, in the
/// registration's transaction: an invitation grants no more than its creator
/// could grant now, so demoting, deactivating or deleting a user disarms
/// every invitation they made, at once and under any race. A manager's
/// invitation also needs the creator to still manage its group (a second
/// action, right after the first).
pub fn creator_check(stores: &Stores, invitation: &Invitation) -> Result<Vec<TransactWriteItem>, StoreError> {
    let Some(id) = invitation.created_by_id else {
        return Ok(Vec::new());
    };
    let must_hold = Invitation::creator_must_hold(invitation.role, &invitation.group_ids, invitation.manager_group);
    let mut checks = vec![crate::audit::actor::check(stores, id, must_hold)?];
    if let Some(group_id) = invitation.manager_group.filter(|_| must_hold == Role::User) {
        checks.push(crate::audit::actor::manager_check(stores, group_id, id)?);
    }
    Ok(checks)
}

/// The action that counts one use, for the registration's transaction: it
/// fails unless the invitation still exists, has a use left and has not expired.
pub fn use_action(stores: &Stores, invitation: &Invitation, now: Timestamp) -> Result<TransactWriteItem, StoreError> {
    let update = built(
        Update::builder()
            .table_name(&stores.tables.invitations)
            .set_key(Some(key(inv_pk(&invitation.hash), "INV")))
            .update_expression("ADD uses :one")
            .condition_expression("attribute_exists(pk) AND uses < max_uses AND expires_at_ms > :now")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now.millis()))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().update(update).build())
}
