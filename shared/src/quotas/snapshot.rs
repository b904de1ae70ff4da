//! The quotas that apply to one task, as read: which limit binds, whether a
//! task fits, and the conditional charge and the release that ride in the
//! task's own transactions.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use crate::db::dynamo::built;
use crate::db::item::{key, n};
use crate::db::{StoreError, Stores};
use crate::quotas::limits::{Resource, Usage, ask_of};
use crate::quotas::store::{Holder, Quota, SK, read_many};
use crate::tasks::TaskRecord;

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

    pub(super) fn from_read(found: &HashMap<Holder, Quota>, group: Option<u64>, user: Option<u64>) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quotas::limits::Limits;

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
