//! External identities in the `identity` table.
//!
//! An identity is an issuer and a subject (`sub`), named by the SHA-256 of
//! `issuer \n sub` (its id in the API). Two items per link, written and
//! deleted together in one transaction: `IDENTITY#<hash>`/`IDENTITY` (who
//! it is linked to: looked up at every login, created with
//! `attribute_not_exists`, so an identity is linked to one user however many
//! logins race) and `USER#<id>`/`IDENTITY#<hash>` (the user's list).

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::crypto::sha256_hex;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, get_n, get_s, key, n, opt_s, s};
use crate::db::keys::user_pk;
use crate::db::{StoreError, Stores};
use crate::types::Timestamp;

/// A link of an external identity to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// The SHA-256 (hex) of `issuer \n sub`: the identity's id.
    pub id: String,
    pub user_id: u64,
    /// The provider id it was linked through.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The provider's `email` claim when the identity was linked, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub email: Option<String>,
    pub linked_at: Timestamp,
}

/// The id of the identity `issuer` + `subject`.
pub fn identity_id(issuer: &str, subject: &str) -> String {
    sha256_hex(&format!("{issuer}\n{subject}"))
}

fn identity_pk(id: &str) -> String {
    format!("IDENTITY#{id}")
}

fn user_sk(id: &str) -> String {
    format!("IDENTITY#{id}")
}

impl Link {
    fn fields(&self) -> Vec<(String, aws_sdk_dynamodb::types::AttributeValue)> {
        let mut fields = vec![
            ("identity_id".to_owned(), s(&self.id)),
            ("user_id".to_owned(), n(self.user_id)),
            ("provider".to_owned(), s(&self.provider)),
            ("issuer".to_owned(), s(&self.issuer)),
            ("subject".to_owned(), s(&self.subject)),
            ("linked_at_ms".to_owned(), n(self.linked_at.millis())),
        ];
        if let Some(email) = &self.email {
            fields.push(("email".to_owned(), s(email)));
        }
        fields
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            id: get_s(item, "identity_id")?,
            user_id: get_n(item, "user_id")?,
            provider: get_s(item, "provider")?,
            issuer: get_s(item, "issuer")?,
            subject: get_s(item, "subject")?,
            email: opt_s(item, "email"),
            linked_at: Timestamp::from_millis(get_n(item, "linked_at_ms")?),
        })
    }

    /// The two puts of a new link, the identity's first (it fails when the
    /// identity is linked already, to anyone).
    pub fn put_actions(&self, stores: &Stores) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = &stores.tables.identity;
        let mut by_identity = key(identity_pk(&self.id), "IDENTITY");
        by_identity.extend(self.fields());
        let mut by_user = key(user_pk(self.user_id), user_sk(&self.id));
        by_user.extend(self.fields());
        Ok(vec![dynamo::put_new(table, by_identity)?, dynamo::put_new(table, by_user)?])
    }
}

/// Who the identity `id` is linked to, if anyone.
pub async fn find(stores: &Stores, id: &str) -> Result<Option<Link>, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.identity, identity_pk(id), "IDENTITY").await?;
    item.as_ref().map(Link::from_item).transpose()
}

/// The identities linked to a user.
pub async fn list(stores: &Stores, user_id: u64) -> Result<Vec<Link>, StoreError> {
    let items = dynamo::query_all(
        &stores.dynamo,
        &stores.tables.identity,
        None,
        "pk",
        &user_pk(user_id),
        Some(("sk", "IDENTITY#")),
    )
    .await?;
    let mut links = items.iter().map(Link::from_item).collect::<Result<Vec<_>, _>>()?;
    links.sort_by_key(|l| l.linked_at);
    Ok(links)
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The identity is linked to a user already (maybe this one).
    #[error("the identity is linked already")]
    Taken,
    /// The user is gone or inactive.
    #[error("the user cannot take a link")]
    NoUser,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Links `link` to its (existing, active) user, with its audit event.
pub async fn link(stores: &Stores, link: &Link, event: &AuditEvent) -> Result<(), LinkError> {
    let mut items = link.put_actions(stores)?;
    let check = built(
        ConditionCheck::builder()
            .table_name(&stores.tables.identity)
            .set_key(Some(key(user_pk(link.user_id), "USER")))
            .condition_expression("attribute_exists(pk) AND is_active = :t")
            .expression_attribute_values(":t", crate::db::item::b(true))
            .build(),
    )?;
    items.push(TransactWriteItem::builder().condition_check(check).build());
    items.push(event.transact_put(stores)?);
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(r)) if failed(&r, 0) || failed(&r, 1) => Err(LinkError::Taken),
        Err(Failure::TransactionCanceled(r)) if failed(&r, 2) => Err(LinkError::NoUser),
        Err(other) => Err(unexpected("linking an identity", other).into()),
    }
}

/// What keeps a user able to log in once an identity goes.
#[derive(Debug, Clone)]
pub enum Remaining {
    /// The user record must still have a password or a passkey.
    PasswordOrPasskey,
    /// This other identity must still be linked.
    Identity(String),
}

#[derive(Debug, thiserror::Error)]
pub enum UnlinkError {
    #[error("no such identity")]
    NotFound,
    /// It is the user's last way to log in.
    #[error("the last way to log in")]
    LastWay,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Unlinks identity `id` from `user_id` on the condition that `remaining`
/// still holds when the transaction commits (so two concurrent unlinks of a
/// user's last two identities cannot both succeed), with its audit event.
pub async fn unlink(
    stores: &Stores,
    user_id: u64,
    id: &str,
    remaining: &Remaining,
    event: &AuditEvent,
) -> Result<(), UnlinkError> {
    let table = &stores.tables.identity;
    let by_identity = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key(identity_pk(id), "IDENTITY")))
            .condition_expression("user_id = :u")
            .expression_attribute_values(":u", n(user_id))
            .build(),
    )?;
    let by_user = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key(user_pk(user_id), user_sk(id))))
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    let guard = match remaining {
        Remaining::PasswordOrPasskey => ConditionCheck::builder()
            .set_key(Some(key(user_pk(user_id), "USER")))
            .condition_expression("attribute_exists(pk) AND (password_hash <> :empty OR mfa_passkeys > :zero)")
            .expression_attribute_values(":empty", s(""))
            .expression_attribute_values(":zero", n(0)),
        Remaining::Identity(other) => ConditionCheck::builder()
            .set_key(Some(key(identity_pk(other), "IDENTITY")))
            .condition_expression("user_id = :u")
            .expression_attribute_values(":u", n(user_id)),
    };
    let guard = built(guard.table_name(table).build())?;
    let items = vec![
        TransactWriteItem::builder().delete(by_identity).build(),
        TransactWriteItem::builder().delete(by_user).build(),
        TransactWriteItem::builder().condition_check(guard).build(),
        event.transact_put(stores)?,
    ];
    match actor::transact(stores, items).await {
        Ok(()) => Ok(()),
        Err(Failure::TransactionCanceled(r)) if failed(&r, 0) || failed(&r, 1) => Err(UnlinkError::NotFound),
        Err(Failure::TransactionCanceled(r)) if failed(&r, 2) => Err(UnlinkError::LastWay),
        Err(Failure::TransactionCanceled(r)) if r.iter().any(|r| r == "TransactionConflict") => {
            Err(UnlinkError::LastWay)
        }
        Err(other) => Err(unexpected("unlinking an identity", other).into()),
    }
}

/// Removes a link whose user no longer exists (a deletion's clean-up that
/// did not finish), on the condition that it still names that user.
pub async fn remove_stale(stores: &Stores, link: &Link) -> Result<(), StoreError> {
    let result = stores
        .dynamo
        .delete_item()
        .table_name(&stores.tables.identity)
        .set_key(Some(key(identity_pk(&link.id), "IDENTITY")))
        .condition_expression("user_id = :u")
        .expression_attribute_values(":u", n(link.user_id))
        .send()
        .await;
    dynamo::unless_gone(result).map(|_| ())
}

/// Deletes every identity of a deleted user (both items of each link).
pub async fn delete_all_of(stores: &Stores, user_id: u64) -> Result<(), StoreError> {
    for link in list(stores, user_id).await? {
        for (pk, sk) in [(identity_pk(&link.id), "IDENTITY".to_owned()), (user_pk(user_id), user_sk(&link.id))] {
            let result = stores
                .dynamo
                .delete_item()
                .table_name(&stores.tables.identity)
                .set_key(Some(key(pk, sk)))
                .condition_expression("user_id = :u")
                .expression_attribute_values(":u", n(user_id))
                .send()
                .await;
            dynamo::unless_gone(result)?;
        }
    }
    Ok(())
}

fn failed(reasons: &[String], index: usize) -> bool {
    reasons.get(index).is_some_and(|r| r == "ConditionalCheckFailed")
}

fn unexpected(what: &str, failure: Failure) -> StoreError {
    match failure {
        Failure::Store(e) => e,
        other => StoreError::Internal(anyhow::anyhow!("{what}: {other:?}")),
    }
}
