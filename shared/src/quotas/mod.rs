//! Quotas: limits per group and per user on what tasks ask for, and the usage
//! counters that enforce them.
//!
//! Key layout (in the `tasks` table, so the counters change in the same
//! transactions as the task items): `QUOTA#GROUP#<id>`/`QUOTA` and
//! `QUOTA#USER#<id>`/`QUOTA`, each holding the limits (`max_*`, absent =
//! unlimited, and `auto_approve`), their version `limits_v` (bumped by every
//! change of the limits) and the usage counters (`used_*`).
//!
//! A task counts from when it is approved until it ends (see `counts`); its
//! share is added to its group's and its owner's counters. For each resource
//! the binding limit is the owner's own one when the owner's quota sets it
//! (measured against the owner's counter), else the group's (measured against
//! the group's counter). A charge is an `ADD` on both items, conditional on
//! the limits being those read (`limits_v`) and on the binding counter having
//! room (`used <= limit - ask`: DynamoDB conditions have no arithmetic, so the
//! threshold is computed from the limits read); of racing charges for the last
//! unit exactly one commits. Releases are unconditional: the status condition
//! of the transition they ride with makes them happen exactly once.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::audit::actor;
use crate::db::dynamo::{self, Failure, built};
use crate::db::item::{Item, key, n, opt_n};
use crate::db::{StoreError, Stores};
use crate::tasks::{TaskRecord, TaskSpec, TaskStatus, TaskType};

/// The actor recorded when the policy approves a task (`auto_approve`).
pub const POLICY_ACTOR: &str = "_policy";

const SK: &str = "QUOTA";

/// What a quota limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    ActiveTasks,
    Cores,
    Gpus,
    MemoryBytes,
    Vps,
}

impl Resource {
    pub const ALL: [Resource; 5] = [Self::ActiveTasks, Self::Cores, Self::Gpus, Self::MemoryBytes, Self::Vps];

    /// The limit's name, as in the quota body.
    pub fn limit_name(self) -> &'static str {
        match self {
            Self::ActiveTasks => "max_active_tasks",
            Self::Cores => "max_cores",
            Self::Gpus => "max_gpus",
            Self::MemoryBytes => "max_memory_bytes",
            Self::Vps => "max_vps",
        }
    }

    fn used_attr(self) -> &'static str {
        match self {
            Self::ActiveTasks => "used_active_tasks",
            Self::Cores => "used_cores",
            Self::Gpus => "used_gpus",
            Self::MemoryBytes => "used_memory_bytes",
            Self::Vps => "used_vps",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::ActiveTasks => "a",
            Self::Cores => "c",
            Self::Gpus => "g",
            Self::MemoryBytes => "m",
            Self::Vps => "v",
        }
    }
}

/// A quota's limits: each absent one is unlimited. `PUT .../quota` replaces
/// them all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Tasks approved and not yet ended (assigning, pending, running, paused).
    pub max_active_tasks: Option<u64>,
    /// The sum of `required_cores` of the active tasks.
    pub max_cores: Option<u64>,
    /// The number of GPUs (indexes in `required_gpus`) of the active tasks.
    pub max_gpus: Option<u64>,
    /// The sum of `required_memory_bytes` of the active tasks.
    pub max_memory_bytes: Option<u64>,
    /// Active VPS tasks.
    pub max_vps: Option<u64>,
    /// Whether a member's task that fits the remaining quota is approved by
    /// the policy at submission (absent = false).
    pub auto_approve: Option<bool>,
}

impl Limits {
    pub fn get(&self, resource: Resource) -> Option<u64> {
        match resource {
            Resource::ActiveTasks => self.max_active_tasks,
            Resource::Cores => self.max_cores,
            Resource::Gpus => self.max_gpus,
            Resource::MemoryBytes => self.max_memory_bytes,
            Resource::Vps => self.max_vps,
        }
    }

    /// 422 for a limit past what a usage counter holds (DynamoDB's counters
    /// are read back as `i64`; the schema says so too).
    pub fn check(&self) -> Result<(), crate::error::ApiError> {
        for resource in Resource::ALL {
            if self.get(resource).is_some_and(|limit| i64::try_from(limit).is_err()) {
                return Err(crate::error::ApiError::invalid(
                    resource.limit_name(),
                    "must be at most 9223372036854775807",
                ));
            }
        }
        Ok(())
    }

    /// Whether anything is limited or auto-approved.
    pub fn is_set(&self) -> bool {
        Resource::ALL.into_iter().any(|r| self.get(r).is_some()) || self.auto_approve.is_some()
    }
}

/// Usage (or what a task asks for): the same five quantities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub active_tasks: u64,
    pub cores: u64,
    pub gpus: u64,
    pub memory_bytes: u64,
    pub vps: u64,
}

impl Usage {
    pub fn get(&self, resource: Resource) -> u64 {
        match resource {
            Resource::ActiveTasks => self.active_tasks,
            Resource::Cores => self.cores,
            Resource::Gpus => self.gpus,
            Resource::MemoryBytes => self.memory_bytes,
            Resource::Vps => self.vps,
        }
    }

    #[must_use]
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            active_tasks: self.active_tasks.saturating_add(other.active_tasks),
            cores: self.cores.saturating_add(other.cores),
            gpus: self.gpus.saturating_add(other.gpus),
            memory_bytes: self.memory_bytes.saturating_add(other.memory_bytes),
            vps: self.vps.saturating_add(other.vps),
        }
    }
}

/// What one task asks for: one active task, its cores, its GPUs, its memory
/// (none when unset) and one VPS if it is one.
pub fn ask_of(spec: &TaskSpec) -> Usage {
    Usage {
        active_tasks: 1,
        cores: u64::from(spec.required_cores),
        gpus: spec.required_gpus.len() as u64,
        memory_bytes: spec.required_memory_bytes.unwrap_or(0),
        vps: u64::from(spec.task_type == TaskType::Vps),
    }
}

/// The statuses in which a task holds its share: approved and not ended.
pub fn counts(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Assigning | TaskStatus::Pending | TaskStatus::Running | TaskStatus::Paused)
}

/// Whose quota an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    Group(u64),
    User(u64),
}

impl Holder {
    fn pk(self) -> String {
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
    version: Option<u64>,
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

/// A limit a task does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    pub resource: Resource,
    pub holder: Holder,
    pub limit: u64,
    pub used: u64,
    pub ask: u64,
}

impl Exceeded {
    /// The limit's name (`max_cores`).
    pub fn limit_name(&self) -> &'static str {
        self.resource.limit_name()
    }
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} (limit {}, in use {}, asked {})",
            self.resource.limit_name(),
            self.holder,
            self.limit,
            self.used,
            self.ask
        )
    }
}

/// The quotas that apply to tasks charged to a group and a user, as read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    group: Option<(u64, Quota)>,
    user: Option<(u64, Quota)>,
}

impl Snapshot {
    /// Reads the quotas of `group` and `user` (either may be none), in one batch read.
    pub async fn read(stores: &Stores, group: Option<u64>, user: Option<u64>) -> Result<Self, StoreError> {
        let holders: Vec<Holder> = group.map(Holder::Group).into_iter().chain(user.map(Holder::User)).collect();
        let found = read_many(stores, &holders).await?;
        Ok(Self::from_read(&found, group, user))
    }

    fn from_read(found: &HashMap<Holder, Quota>, group: Option<u64>, user: Option<u64>) -> Self {
        let of = |h: Holder| found.get(&h).cloned().unwrap_or_default();
        Self { group: group.map(|g| (g, of(Holder::Group(g)))), user: user.map(|u| (u, of(Holder::User(u)))) }
    }

    /// The limit that binds `resource`: the user's own if set, else the
    /// group's; with its holder and that holder's usage.
    pub fn binding(&self, resource: Resource) -> Option<(Holder, u64, u64)> {
        let user = self
            .user
            .as_ref()
            .and_then(|(id, q)| q.limits.get(resource).map(|limit| (Holder::User(*id), limit, q.usage.get(resource))));
        user.or_else(|| {
            self.group.as_ref().and_then(|(id, q)| {
                q.limits.get(resource).map(|limit| (Holder::Group(*id), limit, q.usage.get(resource)))
            })
        })
    }

    /// Whether tasks that fit are approved by the policy: the user's
    /// `auto_approve` if set, else the group's (auto-approval needs a group).
    pub fn auto_approve(&self) -> bool {
        let Some((_, group)) = &self.group else { return false };
        self.user.as_ref().and_then(|(_, q)| q.limits.auto_approve).or(group.limits.auto_approve).unwrap_or(false)
    }

    /// The first limit `ask` exceeds by itself (whatever the usage).
    pub fn over_hard(&self, ask: &Usage) -> Option<Exceeded> {
        Resource::ALL.into_iter().find_map(|resource| {
            let (holder, limit, used) = self.binding(resource)?;
            let want = ask.get(resource);
            (want > limit).then_some(Exceeded { resource, holder, limit, used, ask: want })
        })
    }

    /// The first limit `ask` does not fit in, given the usage read.
    pub fn over_remaining(&self, ask: &Usage) -> Option<Exceeded> {
        Resource::ALL.into_iter().find_map(|resource| {
            let (holder, limit, used) = self.binding(resource)?;
            let want = ask.get(resource);
            (used.saturating_add(want) > limit).then_some(Exceeded { resource, holder, limit, used, ask: want })
        })
    }

    fn quota_of(&self, holder: Holder) -> Option<&Quota> {
        match holder {
            Holder::Group(id) => self.group.as_ref().filter(|(g, _)| *g == id).map(|(_, q)| q),
            Holder::User(id) => self.user.as_ref().filter(|(u, _)| *u == id).map(|(_, q)| q),
        }
    }

    fn holders(&self) -> Vec<Holder> {
        self.group
            .iter()
            .map(|(g, _)| Holder::Group(*g))
            .chain(self.user.iter().map(|(u, _)| Holder::User(*u)))
            .collect()
    }

    /// The transaction actions that charge `ask`: one per holder, each
    /// conditional on the limits read and on room under the limits it binds.
    /// Call only when [`Self::over_remaining`] found none.
    pub fn charge(&self, stores: &Stores, ask: &Usage) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut actions = Vec::new();
        for holder in self.holders() {
            let quota = self.quota_of(holder).cloned().unwrap_or_default();
            let mut update = add_usage(stores, holder, ask, 1);
            let mut conditions = vec![match quota.version {
                Some(v) => {
                    update = update.expression_attribute_values(":lv", n(v));
                    "limits_v = :lv".to_owned()
                }
                None => "attribute_not_exists(limits_v)".to_owned(),
            }];
            for resource in Resource::ALL {
                let Some((binding, limit, _)) = self.binding(resource) else { continue };
                if binding != holder {
                    continue;
                }
                let threshold = limit.saturating_sub(ask.get(resource));
                let used = resource.used_attr();
                let t = format!(":t{}", resource.tag());
                conditions.push(format!("(attribute_not_exists({used}) OR {used} <= {t})"));
                update = update.expression_attribute_values(t, n(threshold));
            }
            let update = built(update.condition_expression(conditions.join(" AND ")).build())?;
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        Ok(actions)
    }
}

/// `ADD used_* :sign*ask` on the holder's item.
fn add_usage(
    stores: &Stores,
    holder: Holder,
    ask: &Usage,
    sign: i64,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    let mut update = Update::builder().table_name(&stores.tables.tasks).set_key(Some(key(holder.pk(), SK)));
    let mut adds = Vec::new();
    for resource in Resource::ALL {
        let d = format!(":d{}", resource.tag());
        adds.push(format!("{} {d}", resource.used_attr()));
        let amount = i64::try_from(ask.get(resource)).unwrap_or(i64::MAX);
        update = update.expression_attribute_values(d, n(sign * amount));
    }
    update.update_expression(format!("ADD {}", adds.join(", ")))
}

/// The actions that return `ask` to the counters of `group` and `user`
/// (unconditional: see the module's comment).
pub fn release(
    stores: &Stores,
    group: Option<u64>,
    user: Option<u64>,
    ask: &Usage,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let holders = group.map(Holder::Group).into_iter().chain(user.map(Holder::User));
    holders
        .map(|holder| {
            let update = built(add_usage(stores, holder, ask, -1).build())?;
            Ok(TransactWriteItem::builder().update(update).build())
        })
        .collect()
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

/// For tasks waiting for approval: which limit each would exceed if approved
/// now (by the usage as it stands), by task id; tasks that fit are left out.
/// One batch read for all of them (the pending list shows this).
pub async fn exceeded_for(stores: &Stores, tasks: &[TaskRecord]) -> Result<HashMap<u64, Exceeded>, StoreError> {
    let mut holders: Vec<Holder> = Vec::new();
    for task in tasks {
        for holder in task.group_id.map(Holder::Group).into_iter().chain(task.owner.id.map(Holder::User)) {
            if !holders.contains(&holder) {
                holders.push(holder);
            }
        }
    }
    let found = read_many(stores, &holders).await?;
    let mut out = HashMap::new();
    for task in tasks {
        let snapshot = Snapshot::from_read(&found, task.group_id, task.owner.id);
        if let Some(exceeded) = snapshot.over_remaining(&ask_of(&task.spec)) {
            out.insert(task.id, exceeded);
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(limits: Limits, usage: Usage) -> Quota {
        Quota { limits, usage, version: Some(1) }
    }

    #[test]
    fn the_users_limit_overrides_the_groups_field_by_field() {
        let group = quota(
            Limits { max_cores: Some(8), max_gpus: Some(2), ..Limits::default() },
            Usage { cores: 6, gpus: 2, ..Usage::default() },
        );
        let user = quota(Limits { max_gpus: Some(4), ..Limits::default() }, Usage { gpus: 1, ..Usage::default() });
        let snapshot = Snapshot { group: Some((1, group)), user: Some((2, user)) };
        assert_eq!(snapshot.binding(Resource::Gpus), Some((Holder::User(2), 4, 1)));
        assert_eq!(snapshot.binding(Resource::Cores), Some((Holder::Group(1), 8, 6)));
        assert_eq!(snapshot.binding(Resource::Vps), None);
        let ask = Usage { active_tasks: 1, cores: 2, gpus: 3, ..Usage::default() };
        assert_eq!(snapshot.over_remaining(&ask), None);
        let more = Usage { cores: 3, ..ask };
        assert_eq!(snapshot.over_remaining(&more).map(|e| e.resource), Some(Resource::Cores));
        let huge = Usage { gpus: 5, ..ask };
        assert_eq!(snapshot.over_hard(&huge).map(|e| e.limit_name()), Some("max_gpus"));
    }

    #[test]
    fn auto_approval_needs_a_group_and_the_user_may_override_it() {
        let on = quota(Limits { auto_approve: Some(true), ..Limits::default() }, Usage::default());
        let off = quota(Limits { auto_approve: Some(false), ..Limits::default() }, Usage::default());
        assert!(Snapshot { group: Some((1, on.clone())), user: Some((2, Quota::default())) }.auto_approve());
        assert!(!Snapshot { group: Some((1, on.clone())), user: Some((2, off)) }.auto_approve());
        assert!(!Snapshot { group: None, user: Some((2, on)) }.auto_approve());
    }
}
