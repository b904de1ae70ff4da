//! A task as the API shows it (the original's `TaskResponse`, plus approval
//! and dispatch details), in full or as a summary.

use serde_json::{Value, json};
use shared::auth::Caller;
use shared::tasks::TaskStatus;
use shared::tasks::{Actor, TaskRecord};
use shared::types::Role;

/// Whether `caller` may see everything of `task`: its owner, and operators up.
pub fn sees_all(caller: &Caller, task: &TaskRecord) -> bool {
    caller.role().at_least(Role::Operator) || (task.owner.id.is_some() && caller.user_id() == task.owner.id)
}

fn who(actor: Option<&Actor>) -> (Value, Value, Value) {
    match actor {
        Some(a) => (json!(a.username), json!(a.id), json!(a.at)),
        None => (Value::Null, Value::Null, Value::Null),
    }
}

/// The task; without `full`, what only its owner and operators may read
/// (`command`, `arguments`, `env_vars`, `ip_reservation_token`) is null and
/// `redacted` is true. Ids are strings (64-bit).
pub fn view(task: &TaskRecord, full: bool) -> Value {
    let spec = &task.spec;
    let approval_status = if task.status == TaskStatus::PendingApproval {
        json!("pending")
    } else if task.rejected.is_some() {
        json!("rejected")
    } else if task.approved.is_some() {
        json!("approved")
    } else {
        Value::Null
    };
    let owner_username =
        if task.owner_deleted { format!("{} (deleted)", task.owner.username) } else { task.owner.username.clone() };
    let (approved_by, approved_by_id, approved_at) = who(task.approved.as_ref());
    let (rejected_by, rejected_by_id, rejected_at) = who(task.rejected.as_ref());
    let (cancelled_by, _, cancelled_at) = who(task.cancelled.as_ref());
    let mut body = json!({
        "task_id": task.id.to_string(),
        "batch_id": task.batch_id.to_string(),
        "task_type": spec.task_type.as_str(),
        "name": spec.name,
        "status": task.status,
        "approval_status": approval_status,
        "owner_id": task.owner.id,
        "owner_username": owner_username,
        "owner_deleted": task.owner_deleted,
        "required_cores": spec.required_cores,
        "required_gpus": spec.required_gpus,
        "required_memory_bytes": spec.required_memory_bytes,
        "targets": spec.target.iter().collect::<Vec<_>>(),
        "assigned_node": spec.target.as_deref().map(|t| t.split(':').next().unwrap_or(t)),
        "container_name": spec.container_name,
        "registry_image": spec.registry_image,
        "privileged": spec.privileged,
        "additional_mounts": spec.additional_mounts,
        "approved_by_username": approved_by,
        "approved_by_id": approved_by_id,
        "approved_at": approved_at,
        "rejected_by_username": rejected_by,
        "rejected_by_id": rejected_by_id,
        "rejected_at": rejected_at,
        "rejection_reason": task.rejection_reason,
        "cancelled_by_username": cancelled_by,
        "cancelled_at": cancelled_at,
        "submitted_at": task.submitted_at,
        "updated_at": task.updated_at,
        "dispatch_state": task.dispatch_state,
        "redacted": !full,
    });
    if let Some(map) = body.as_object_mut() {
        let (command, arguments, env_vars, ip) = if full {
            (json!(spec.command), json!(spec.arguments), json!(spec.env_vars), json!(spec.ip_reservation_token))
        } else {
            (Value::Null, Value::Null, Value::Null, Value::Null)
        };
        map.insert("command".into(), command);
        map.insert("arguments".into(), arguments);
        map.insert("env_vars".into(), env_vars);
        map.insert("ip_reservation_token".into(), ip);
    }
    body
}
