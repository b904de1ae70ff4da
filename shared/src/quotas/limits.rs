//! What a quota limits and what a task asks for.

use serde::{Deserialize, Serialize};

use crate::tasks::{TaskSpec, TaskStatus, TaskType};

/// The actor recorded when the policy approves a task (`auto_approve`).
pub const POLICY_ACTOR: &str = "_policy";

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

    pub(super) fn used_attr(self) -> &'static str {
        match self {
            Self::ActiveTasks => "used_active_tasks",
            Self::Cores => "used_cores",
            Self::Gpus => "used_gpus",
            Self::MemoryBytes => "used_memory_bytes",
            Self::Vps => "used_vps",
        }
    }

    pub(super) fn tag(self) -> &'static str {
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
