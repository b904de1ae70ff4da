//! `POST /api/authorize`: may the caller connect to (or manage) a VPS? What an
//! SSH proxy or terminal gateway asks with the user's credentials. Warm, it
//! costs one Redis round trip (the caller, with their groups) and one DynamoDB
//! Query (the VPS with its assignments).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::audit::{self, Outcome};
use shared::auth::Authenticated;
use shared::auth::ClientInfo;
use shared::http::extract;
use shared::tasks::TaskStatus;
use shared::types::Role;
use shared::vps;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Question {
    /// `vps:<id>`.
    #[schema(pattern = "^vps:[0-9]{1,19}$")]
    resource: String,
    /// `connect` or `manage`.
    #[schema(pattern = "^(connect|manage)$")]
    action: String,
}

/// `POST /api/authorize` when allowed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Allowed {
    allowed: bool,
    user: String,
    /// Null for the built-in system admin.
    user_id: Option<u64>,
    role: Role,
}

/// `connect`: a caller of at least `user` who is the owner, an assigned user
/// or a member of an assigned group, or an operator (owners and assignees only while the VPS is approved and alive). `manage`:
/// operators. 200 `{allowed: true, user, user_id, role}` or 403 (audited).
#[utoipa::path(post, path = "/api/authorize", tag = "vps", request_body = Question,
    responses((status = 200, description = "Allowed", body = Allowed),
        (status = 403, description = "Not allowed", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such VPS (told to operators only; others get 403)", body = shared::http::openapi::ErrorBody)))]
pub async fn authorize(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    extract::Json(question): extract::Json<Question>,
) -> ApiResult<Json<Allowed>> {
    let vps_id = question
        .resource
        .strip_prefix("vps:")
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or_else(|| ApiError::invalid("resource", "expected vps:<id>"))?;
    let manage = match question.action.as_str() {
        "connect" => false,
        "manage" => true,
        _ => return Err(ApiError::invalid("action", "expected connect or manage")),
    };
    let operator = caller.role().at_least(Role::Operator);
    let allowed = match vps::read(&state.stores, vps_id).await? {
        None if operator => return Err(ApiError::not_found("VPS not found")),
        // Others learn nothing about which VPS exist.
        None => false,
        Some(_) if operator => true,
        Some(_) if manage => false,
        // Connecting runs code on the cluster: a viewer's role never allows it,
        // whatever the VPS's assignments say (as `/api/vps/my` needs `user`).
        Some(_) if !caller.role().at_least(Role::User) => false,
        Some(view) => match caller.user() {
            Some(user) => {
                let groups: Vec<u64> = user.groups.iter().map(|g| g.id).collect();
                // Waiting for approval, it runs nowhere yet; ended, it grants nothing.
                let live = view.task.status.is_active() && view.task.status != TaskStatus::PendingApproval;
                live && view.grants_connect(user.id, &groups)
            }
            None => false,
        },
    };
    let actor = caller.actor();
    if !allowed {
        let event = client
            .event(caller.actor(), "vps.authorize", Outcome::Denied)
            .target(question.resource.clone())
            .detail(question.action.clone());
        audit::record(&state.stores, &event).await?;
        return Err(ApiError::forbidden(
            "not_allowed",
            format!("Not allowed to {} {}", question.action, question.resource),
        ));
    }
    Ok(Json(Allowed { allowed: true, user: actor.name, user_id: actor.id, role: caller.role() }))
}
