//! `POST /api/auth/invitations` (and the compat `/create`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use shared::auth::{ClientInfo, Require, min};
use shared::model::{Role, Timestamp};
use shared::store::audit::Outcome;
use shared::store::invitations::{self, Invitation, InvitationError, NewInvitation};
use shared::{ApiError, ApiResult, AppState};

use crate::list::view;

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewInvitation)]
pub struct CreateBody {
    /// Default `user`; operators may invite only `viewer`s.
    #[schema(value_type = Option<shared::openapi::AssignableRole>)]
    role: Option<String>,
    #[schema(max_items = 20)]
    group_ids: Option<Vec<u64>>,
    /// The original dashboard's single group.
    group_id: Option<u64>,
    #[serde(alias = "max_usage")]
    #[schema(minimum = 1, maximum = 1000)]
    max_uses: Option<u64>,
    /// Hours until it expires, 1 to 720 (default 72).
    #[schema(minimum = 1, maximum = 720)]
    expires_hours: Option<u32>,
}

/// Where a code can be used: `PUBLIC_URL` when configured, else the address
/// the request came to (its `Host`, https unless it is a local address).
fn register_url(state: &AppState, headers: &HeaderMap, code: &str) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let local = host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|p| matches!(*p, "http" | "https"))
            .unwrap_or(if local { "http" } else { "https" });
        format!("{scheme}://{host}")
    });
    format!("{}/register?token={code}", base.trim_end_matches('/'))
}

/// Creates an invitation (also at the compat `/create`, see [`create_compat`]).
#[utoipa::path(post, path = "/api/auth/invitations", tag = "invitations", request_body = CreateBody,
    responses((status = 201, description = "Created; `code` is shown only now", body = crate::schema::CreatedInvitation),
        (status = 403, description = "Below operator; an operator inviting above viewer or into groups", body = shared::openapi::ErrorBody),
        (status = 404, description = "A group of `group_ids` does not exist", body = shared::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Operator>,
    client: ClientInfo,
    headers: HeaderMap,
    shared::extract::Json(body): shared::extract::Json<CreateBody>,
) -> ApiResult<Response> {
    // The role is validated first, so a bad role is a 422 for everyone.
    let role = Role::parse_assignable("role", body.role.as_deref().unwrap_or("user"))?;
    let mut group_ids = body.group_ids.unwrap_or_default();
    group_ids.extend(body.group_id);
    group_ids.sort_unstable();
    group_ids.dedup();
    if !caller.role().at_least(Role::Admin) {
        if role != Role::Viewer {
            return Err(ApiError::forbidden("role_too_high", "Operators can only create viewer invitations"));
        }
        // Group membership can grant VPS access, which is an admin's to give.
        if !group_ids.is_empty() {
            return Err(ApiError::forbidden("groups_admin_only", "Only admins can invite into groups"));
        }
    }
    if !caller.role().at_least(role) {
        return Err(ApiError::forbidden("role_too_high", "You cannot invite a role above your own"));
    }
    if group_ids.len() > 20 {
        return Err(ApiError::invalid("group_ids", "at most 20 groups"));
    }
    let max_uses = body.max_uses.unwrap_or(1);
    if !(1..=1000).contains(&max_uses) {
        return Err(ApiError::invalid("max_uses", "must be from 1 to 1000"));
    }
    let hours = body.expires_hours.unwrap_or(72);
    if !(1..=720).contains(&hours) {
        return Err(ApiError::invalid("expires_hours", "must be from 1 to 720"));
    }
    let (actor, actor_id) = caller.actor();
    let new = NewInvitation {
        role,
        group_ids,
        max_uses,
        expires_at: Timestamp::now().plus_secs(i64::from(hours) * 3600),
        created_by: actor.clone(),
        created_by_id: actor_id,
    };
    let audit = |inv: &Invitation| {
        client
            .event(caller.actor(), "invitation.create", Outcome::Success)
            .target(format!("invitation:{}", inv.id))
            .detail(format!("role {}, {} uses, groups {:?}", inv.role, inv.max_uses, inv.group_ids))
    };
    let (code, invitation) = match invitations::create(&state.stores, new, audit, state.config.audit_retention_days)
        .await
    {
        Ok(created) => created,
        Err(InvitationError::GroupNotFound(id)) => return Err(ApiError::not_found(format!("Group {id} not found"))),
        Err(InvitationError::Store(e)) => return Err(e.into()),
    };
    let mut body = serde_json::to_value(view(&state, &invitation).await?).map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(map) = body.as_object_mut() {
        let url = register_url(&state, &headers, &code);
        map.insert("code".into(), json!(code));
        // The original dashboard reads `token` to build the link.
        map.insert("token".into(), json!(code));
        map.insert("register_url".into(), json!(url));
    }
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// The original dashboard's `POST /api/auth/invitations/create`: the same as [`create`].
#[utoipa::path(post, path = "/api/auth/invitations/create", tag = "invitations", request_body = CreateBody,
    responses((status = 201, description = "Created; `code` is shown only now", body = crate::schema::CreatedInvitation),
        (status = 403, description = "Below operator; an operator inviting above viewer or into groups", body = shared::openapi::ErrorBody),
        (status = 404, description = "A group of `group_ids` does not exist", body = shared::openapi::ErrorBody)))]
pub async fn create_compat(
    state: State<AppState>,
    caller: Require<min::Operator>,
    client: ClientInfo,
    headers: HeaderMap,
    body: shared::extract::Json<CreateBody>,
) -> ApiResult<Response> {
    create(state, caller, client, headers, body).await
}
