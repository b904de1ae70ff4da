//! Quota items in the `tasks` table: reading them, replacing their limits,
//! and choosing the group a submission counts against.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, key, n, opt_n};
use crate::db::{StoreError, Stores};
use crate::quotas::limits::{Limits, Resource, Usage};

pub(super) const SK: &str = "QUOTA";

/// Whose quota an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    Group(u64),
    User(u64),
}

impl Holder {
    pub(super) fn pk(self) -> String {
        match self {
            Self::Group(id) => format!("QUOTA#GROUP#{id}"),
            Self::User(id) => format!("QUOTA#USER#{id}"),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Group(id) => write!(f, "group {id}"),
            Self::User(id) => write!(f, "user {id}"),
        }
    }
}

/// A quota item: limits, their version and usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    pub limits: Limits,
    pub usage: Usage,
    pub(super) version: Option<u64>,
}

impl Quota {
    fn from_item(item: &Item) -> Self {
        let used = |r: Resource| opt_n::<i64>(item, r.used_attr()).map_or(0, |v| u64::try_from(v).unwrap_or(0));
        Self {
            limits: Limits {
                max_active_tasks: opt_n(item, "max_active_tasks"),
                max_cores: opt_n(item, "max_cores"),
                max_gpus: opt_n(item, "max_gpus"),
                max_memory_bytes: opt_n(item, "max_memory_bytes"),
                max_vps: opt_n(item, "max_vps"),
                auto_approve: item.get("auto_approve").and_then(|v| v.as_bool().ok()).copied(),
            },
            usage: Usage {
                active_tasks: used(Resource::ActiveTasks),
                cores: used(Resource::Cores),
                gpus: used(Resource::Gpus),
                memory_bytes: used(Resource::MemoryBytes),
                vps: used(Resource::Vps),
            },
            version: opt_n(item, "limits_v"),
        }
    }
}

/// The quota of `holder` (all unlimited and unused when none was ever written).
pub async fn get(stores: &Stores, holder: Holder) -> Result<Quota, StoreError> {
    let item = dynamo::get_item(&stores.dynamo, &stores.tables.tasks, holder.pk(), SK).await?;
    Ok(item.as_ref().map(Quota::from_item).unwrap_or_default())
}

/// Replaces the limits of `holder` (usage stays), with the audit event, and
/// returns the quota after.
pub async fn set_limits(
    stores: &Stores,
    holder: Holder,
    limits: &Limits,
    audit: &AuditEvent,
) -> Result<Quota, StoreError> {
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let mut update = Update::builder().table_name(&stores.tables.tasks).set_key(Some(key(holder.pk(), SK)));
    for resource in Resource::ALL {
        let name = resource.limit_name();
        match limits.get(resource) {
            Some(value) => {
                sets.push(format!("{name} = :{name}"));
                update = update.expression_attribute_values(format!(":{name}"), n(value));
            }
            None => removes.push(name.to_owned()),
        }
    }
    match limits.auto_approve {
        Some(value) => {
            sets.push("auto_approve = :auto".into());
            update = update.expression_attribute_values(":auto", aws_sdk_dynamodb::types::AttributeValue::Bool(value));
        }
        None => removes.push("auto_approve".into()),
    }
    let mut expression = String::new();
    if !sets.is_empty() {
        expression.push_str(&format!("SET {} ", sets.join(", ")));
    }
    if !removes.is_empty() {
        expression.push_str(&format!("REMOVE {} ", removes.join(", ")));
    }
    // A new version makes every charge computed from the old limits fail and re-read.
    expression.push_str("ADD limits_v :one");
    let update = built(update.update_expression(expression).expression_attribute_values(":one", n(1)).build())?;
    let items = vec![TransactWriteItem::builder().update(update).build(), audit.transact_put(stores)?];
    actor::transact(stores, items).await.map_err(Failure::into_store_error)?;
    get(stores, holder).await
}

/// The quotas of `holders` that exist, in one batch read.
pub async fn read_many(stores: &Stores, holders: &[Holder]) -> Result<HashMap<Holder, Quota>, StoreError> {
    if holders.is_empty() {
        return Ok(HashMap::new());
    }
    let keys = holders.iter().map(|h| key(h.pk(), SK)).collect();
    let items = dynamo::batch_get(&stores.dynamo, &stores.tables.tasks, keys).await?;
    let mut found = HashMap::new();
    for item in &items {
        let pk = crate::db::item::get_s(item, "pk")?;
        let holder = holders.iter().copied().find(|h| h.pk() == pk);
        if let Some(holder) = holder {
            found.insert(holder, Quota::from_item(item));
        }
    }
    Ok(found)
}

/// Which group a submission counts against: the one named (the submitter
/// must be a member), else the submitter's only group, else none; a member of
/// several groups must name one when any of them has a quota.
pub async fn choose_group(stores: &Stores, named: Option<u64>, member_of: &[u64]) -> Result<Option<u64>, GroupChoice> {
    if let Some(id) = named {
        return if member_of.contains(&id) { Ok(Some(id)) } else { Err(GroupChoice::NotMember(id)) };
    }
    match member_of {
        [] => Ok(None),
        [only] => Ok(Some(*only)),
        several => {
            let holders: Vec<Holder> = several.iter().map(|g| Holder::Group(*g)).collect();
            let found = read_many(stores, &holders).await.map_err(GroupChoice::Store)?;
            if found.values().any(|q| q.limits.is_set()) { Err(GroupChoice::MustName) } else { Ok(None) }
        }
    }
}

/// Why a submission's group could not be chosen.
#[derive(Debug, thiserror::Error)]
pub enum GroupChoice {
    #[error("you are not a member of group {0}")]
    NotMember(u64),
    #[error("you are in several groups and quotas apply: name one in group_id")]
    MustName,
    #[error(transparent)]
    Store(StoreError),
}
