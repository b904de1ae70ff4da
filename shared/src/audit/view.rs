//! The audit log as the admin API lists it.

use serde::Serialize;

use crate::audit::AuditEntry;

/// One audit event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    id: String,
    #[schema(value_type = crate::types::Timestamp)]
    at: String,
    /// Username of the actor, `_system` for the admin secret or disabled auth,
    /// `_anonymous` for unauthenticated callers.
    actor: String,
    actor_id: Option<u64>,
    action: String,
    target: Option<String>,
    #[schema(value_type = crate::audit::Outcome)]
    outcome: String,
    /// A short machine reason for failures (`wrong_password`, `throttled`, …).
    reason: Option<String>,
    /// What changed, in words (`role user → operator`); never a secret.
    detail: Option<String>,
    client: Option<String>,
    request_id: Option<String>,
}

impl From<AuditEntry> for AuditEventView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            actor_id: e.actor_id,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            reason: e.reason,
            detail: e.detail,
            client: e.client,
            request_id: e.request_id,
        }
    }
}
