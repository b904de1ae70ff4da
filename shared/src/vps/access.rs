//! What grants access to a VPS, kept in Redis beside the caller's session so
//! `/api/authorize` answers from one round trip and no DynamoDB call when warm.
//! A read model (see `read_model.rs`): every write of what it reflects (the
//! VPS's assignments, its status) runs inside its fence (`vps::write` and
//! `tasks::transition`), so it is never staler than DynamoDB once a write is
//! acknowledged. Only VPS that exist are cached: asking about one that does
//! not costs a DynamoDB read each time.

use serde::{Deserialize, Serialize};

use crate::db::kv::Redis;
use crate::db::{StoreError, Stores};
use crate::read_model::{Model, Read};
use crate::tasks::TaskStatus;
use crate::types::Role;
use crate::vps::{Assignee, VpsView, read};

/// The part of a VPS that decides who may connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    pub owner: Option<u64>,
    /// Approved and not ended: waiting for approval, it runs nowhere yet;
    /// ended, it grants nothing.
    pub live: bool,
    pub users: Vec<u64>,
    pub groups: Vec<u64>,
}

impl Grants {
    pub fn of(view: &VpsView) -> Self {
        let status = view.task.status;
        let (mut users, mut groups) = (Vec::new(), Vec::new());
        for a in &view.assignments {
            match a.assignee {
                Assignee::User(id) => users.push(id),
                Assignee::Group(id) => groups.push(id),
            }
        }
        Self {
            owner: view.task.owner.id,
            live: status.is_active() && status != TaskStatus::PendingApproval,
            users,
            groups,
        }
    }

    /// Whether `user_id` (in `group_ids`) may connect: the VPS is live and they
    /// own it, are assigned, or are in an assigned group.
    pub fn connect(&self, user_id: u64, group_ids: &[u64]) -> bool {
        self.live
            && (self.owner == Some(user_id)
                || self.users.contains(&user_id)
                || self.groups.iter().any(|g| group_ids.contains(g)))
    }
}

/// The read model of VPS `vps_id`'s grants.
pub fn model(redis: &Redis, vps_id: u64) -> Model {
    Model::new(redis, "vpsgrants", &format!("v{vps_id}"))
}

/// The grants of `vps_id` from the answers to `model(..).reads()`, or, on a
/// miss, from DynamoDB (then cached, unless a writer came by). `None` when
/// there is no such VPS.
pub async fn grants(stores: &Stores, vps_id: u64, answers: &[redis::Value]) -> Result<Option<Grants>, StoreError> {
    let model = model(&stores.redis, vps_id);
    match model.parse::<Grants>(answers) {
        Read::Hit(grants) => Ok(Some(grants)),
        Read::Miss { generation } => {
            let Some(view) = read(stores, vps_id).await? else { return Ok(None) };
            let grants = Grants::of(&view);
            model.fill(&stores.redis, &grants, &generation).await;
            Ok(Some(grants))
        }
    }
}

/// The answer to "may this caller connect to (or manage) this VPS?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
    /// No such VPS, told to operators only (others are denied, and learn
    /// nothing about which VPS exist).
    NotFound,
}

/// Decides for a caller of `role` (the user `user`, in groups `group_ids`):
/// operators may connect to and manage any VPS; a caller of at least `user`
/// may connect to one that grants it to them; nobody else may do anything.
/// `answers` are those of `model(..).reads()`.
pub async fn decide(
    stores: &Stores,
    vps_id: u64,
    manage: bool,
    role: Role,
    user: Option<(u64, &[u64])>,
    answers: &[redis::Value],
) -> Result<Decision, StoreError> {
    let operator = role.at_least(Role::Operator);
    // Connecting runs code on the cluster: a viewer's role never allows it,
    // whatever the VPS's grants say (as `/api/vps/my` needs `user`).
    if !operator && (manage || !role.at_least(Role::User)) {
        return Ok(Decision::Denied);
    }
    Ok(match (grants(stores, vps_id, answers).await?, user) {
        (None, _) if operator => Decision::NotFound,
        (None, _) => Decision::Denied,
        (Some(_), _) if operator => Decision::Allowed,
        (Some(grants), Some((id, groups))) if grants.connect(id, groups) => Decision::Allowed,
        (Some(_), _) => Decision::Denied,
    })
}
