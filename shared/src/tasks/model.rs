//! Tasks: the KohakuRiver submission body, statuses and the transitions a
//! task may take.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{ApiError, FieldError};
use serde::{Deserialize, Serialize};

/// Every status a task can have (the original's, plus `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    PendingApproval,
    Rejected,
    Cancelled,
    Pending,
    Assigning,
    Running,
    Paused,
    Completed,
    Failed,
    Killed,
    KilledOom,
    Lost,
    Stopped,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 13] = [
        Self::PendingApproval,
        Self::Rejected,
        Self::Cancelled,
        Self::Pending,
        Self::Assigning,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Failed,
        Self::Killed,
        Self::KilledOom,
        Self::Lost,
        Self::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "pending_approval",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Pending => "pending",
            Self::Assigning => "assigning",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Killed => "killed",
            Self::KilledOom => "killed_oom",
            Self::Lost => "lost",
            Self::Stopped => "stopped",
        }
    }

    /// Where a scheduler may move a task from here (`POST /tasks/{id}/status`).
    /// Approval, rejection and cancellation have their own endpoints.
    pub fn next_by_scheduler(self) -> &'static [TaskStatus] {
        use TaskStatus::*;
        match self {
            Assigning => &[Pending, Running, Failed, Killed, Lost],
            Pending => &[Assigning, Running, Failed, Killed, Lost],
            Running => &[Paused, Completed, Failed, Killed, KilledOom, Lost, Stopped],
            Paused => &[Running, Failed, Killed, Lost, Stopped],
            PendingApproval | Rejected | Cancelled | Completed | Failed | Killed | KilledOom | Lost | Stopped => &[],
        }
    }

    /// Whether the VPS a task of this status stands for is still alive.
    pub fn is_active(self) -> bool {
        matches!(self, Self::PendingApproval | Self::Pending | Self::Assigning | Self::Running | Self::Paused)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    Command,
    Vps,
}

impl TaskType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Vps => "vps",
        }
    }
}

impl FromStr for TaskType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "command" => Ok(Self::Command),
            "vps" => Ok(Self::Vps),
            _ => Err(()),
        }
    }
}

/// The KohakuRiver submission body. Unknown fields are ignored, as the
/// original's clients send fields this service does not use.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TaskSubmission {
    #[serde(default)]
    #[schema(value_type = Option<TaskType>)]
    pub task_type: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default, deserialize_with = "null_is_absent")]
    #[schema(nullable)]
    pub arguments: Vec<String>,
    #[serde(default, deserialize_with = "null_is_absent")]
    #[schema(nullable)]
    pub env_vars: BTreeMap<String, String>,
    pub required_cores: Option<u32>,
    #[serde(default, deserialize_with = "null_is_absent")]
    #[schema(nullable)]
    pub required_gpus: Vec<Vec<u32>>,
    pub required_memory_bytes: Option<u64>,
    #[serde(default, deserialize_with = "null_is_absent")]
    #[schema(nullable)]
    pub targets: Vec<String>,
    pub container_name: Option<String>,
    pub registry_image: Option<String>,
    #[serde(default, deserialize_with = "null_is_absent")]
    #[schema(nullable)]
    pub privileged: bool,
    #[serde(default, deserialize_with = "null_is_absent")]
    #[schema(nullable)]
    pub additional_mounts: Vec<String>,
    pub ip_reservation_token: Option<String>,
    pub name: Option<String>,
    /// The group the task counts against (see `shared::quotas`): optional
    /// when the submitter is in one group only, or no quota applies.
    #[serde(default)]
    pub group_id: Option<u64>,
}

/// A field the original accepts as null (`X | None = None`): null means
/// absent, as the original dashboard's submit dialog sends it.
fn null_is_absent<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// One task to create (a submission with several targets makes several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub task_type: TaskType,
    pub name: Option<String>,
    pub command: String,
    pub arguments: Vec<String>,
    pub env_vars: BTreeMap<String, String>,
    pub required_cores: u32,
    pub required_gpus: Vec<u32>,
    pub required_memory_bytes: Option<u64>,
    pub target: Option<String>,
    pub container_name: Option<String>,
    pub registry_image: Option<String>,
    pub privileged: bool,
    pub additional_mounts: Vec<String>,
    pub ip_reservation_token: Option<String>,
}

fn valid_target(t: &str) -> bool {
    let (host, numa) = match t.split_once(':') {
        Some((h, n)) => (h, Some(n)),
        None => (t, None),
    };
    !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && numa.is_none_or(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 256
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl TaskSubmission {
    /// Validates the body (every problem reported, as 422 field errors) and
    /// splits it into one task per target.
    pub fn into_specs(self) -> Result<Vec<TaskSpec>, ApiError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: &str| errors.push(FieldError::new(field, message));
        let task_type = match self.task_type.as_deref().unwrap_or("command").parse::<TaskType>() {
            Ok(t) => t,
            Err(()) => {
                err("task_type", "must be command or vps");
                TaskType::Command
            }
        };
        let command = self.command.unwrap_or_default();
        if task_type == TaskType::Command && command.trim().is_empty() {
            err("command", "is required for a command task");
        }
        if command.len() > 16 * 1024 {
            err("command", "must be at most 16 KiB");
        }
        if self.arguments.len() > 256 || self.arguments.iter().any(|a| a.len() > 4096) {
            err("arguments", "at most 256 arguments of at most 4096 bytes each");
        }
        if self.env_vars.len() > 256 {
            err("env_vars", "at most 256 variables");
        }
        if self.env_vars.keys().any(|k| !valid_env_name(k)) {
            err("env_vars", "names are letters, digits and '_', not starting with a digit");
        }
        if self.env_vars.values().any(|v| v.len() > 32 * 1024) {
            err("env_vars", "values must be at most 32 KiB");
        }
        let required_cores = self.required_cores.unwrap_or(1);
        if required_cores > 4096 {
            err("required_cores", "must be at most 4096");
        }
        if self.targets.len() > 64 || self.targets.iter().any(|t| !valid_target(t)) {
            err("targets", "at most 64 targets of the form host or host:numa");
        }
        if !self.required_gpus.is_empty() {
            if self.targets.is_empty() {
                err("required_gpus", "a GPU task must name its targets");
            } else if self.required_gpus.len() != self.targets.len() {
                err("required_gpus", "needs one list of GPU indexes per target");
            }
            if self.required_gpus.iter().flatten().any(|g| *g > 255) {
                err("required_gpus", "GPU indexes are 0 to 255");
            }
            if self.required_gpus.iter().any(|gpus| gpus.len() > 64) {
                err("required_gpus", "at most 64 GPUs per target");
            }
        }
        if task_type == TaskType::Vps {
            if self.targets.len() > 1 {
                err("targets", "a VPS runs on at most one target");
            }
            if self.container_name.as_deref() == Some("NULL") {
                err("container_name", "a VPS needs a container");
            }
        }
        for (field, value, max) in [
            ("container_name", self.container_name.as_deref(), 256),
            ("registry_image", self.registry_image.as_deref(), 512),
            ("ip_reservation_token", self.ip_reservation_token.as_deref(), 512),
            ("name", self.name.as_deref(), 128),
        ] {
            if value.is_some_and(|v| v.len() > max || v.chars().any(char::is_control)) {
                err(field, &format!("at most {max} bytes, no control characters"));
            }
        }
        if self.additional_mounts.len() > 64 || self.additional_mounts.iter().any(|m| m.is_empty() || m.len() > 1024) {
            err("additional_mounts", "at most 64 mounts of 1 to 1024 bytes each");
        }
        if let Some(first) = errors.first() {
            let detail = format!("{}: {}", first.field, first.message);
            return Err(ApiError::Validation { detail, errors });
        }
        let targets: Vec<Option<String>> =
            if self.targets.is_empty() { vec![None] } else { self.targets.iter().cloned().map(Some).collect() };
        Ok(targets
            .into_iter()
            .enumerate()
            .map(|(i, target)| TaskSpec {
                task_type,
                name: self.name.clone(),
                command: command.clone(),
                arguments: self.arguments.clone(),
                env_vars: self.env_vars.clone(),
                required_cores,
                required_gpus: self.required_gpus.get(i).cloned().unwrap_or_default(),
                required_memory_bytes: self.required_memory_bytes,
                target,
                container_name: self.container_name.clone(),
                registry_image: self.registry_image.clone(),
                privileged: self.privileged,
                additional_mounts: self.additional_mounts.clone(),
                ip_reservation_token: self.ip_reservation_token.clone(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submission(json: serde_json::Value) -> TaskSubmission {
        serde_json::from_value(json).expect("shape")
    }

    #[test]
    fn one_task_per_target_with_its_gpus() {
        let specs = submission(serde_json::json!({
            "command": "python train.py", "targets": ["node1", "node2:0"], "required_gpus": [[0, 1], [2]]
        }))
        .into_specs()
        .expect("valid");
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[1].target.as_deref(), Some("node2:0"));
        assert_eq!(specs[1].required_gpus, vec![2]);
        assert_eq!(specs[0].required_cores, 1);
    }

    #[test]
    fn every_problem_is_reported_as_a_field_error() {
        let err = submission(serde_json::json!({
            "task_type": "batch", "required_gpus": [[0]], "env_vars": {"1BAD": "x"}, "targets": ["bad host", "ok"]
        }))
        .into_specs()
        .expect_err("invalid");
        let ApiError::Validation { errors, .. } = err else { panic!("not a validation error") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for field in ["task_type", "env_vars", "targets", "required_gpus"] {
            assert!(fields.contains(&field), "{field} missing in {fields:?}");
        }
    }

    #[test]
    fn vps_rules_hold() {
        let err = submission(serde_json::json!({"task_type": "vps", "targets": ["a", "b"], "container_name": "NULL"}))
            .into_specs()
            .expect_err("invalid");
        assert_eq!(err.status(), 422);
        let ok = submission(serde_json::json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).into_specs();
        assert!(ok.is_ok());
    }

    #[test]
    fn schedulers_move_along_allowed_transitions_only() {
        assert!(TaskStatus::Assigning.next_by_scheduler().contains(&TaskStatus::Running));
        assert!(TaskStatus::Running.next_by_scheduler().contains(&TaskStatus::Completed));
        assert!(TaskStatus::Completed.next_by_scheduler().is_empty());
        assert!(!TaskStatus::PendingApproval.next_by_scheduler().contains(&TaskStatus::Running));
        assert_eq!("killed_oom".parse::<TaskStatus>(), Ok(TaskStatus::KilledOom));
    }
}
