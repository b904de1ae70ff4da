//! `GET /api/auth/invitations` and `DELETE /api/auth/invitations/{id}` (admin).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use serde_json::{Value, json};
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups::{self, GroupRef};
use shared::http::extract::{Path, Query};
use shared::http::page;
use shared::invitations::{self, Invitation};
use shared::types::Role;
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState};

/// An invitation as listed: never the code (only its stored hash exists), a
/// short prefix to recognise it by, and the original dashboard's field names
/// (`usage_count`, `max_usage`) next to the new ones.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    id: u64,
    role: Role,
    groups: Vec<GroupRef>,
    max_uses: u64,
    uses: u64,
    remaining_uses: u64,
    max_usage: u64,
    usage_count: u64,
    expires_at: Timestamp,
    is_valid: bool,
    created_by: String,
    created_at: Timestamp,
    code_prefix: String,
}

pub async fn view(state: &AppState, inv: &Invitation) -> ApiResult<InvitationView> {
    let groups =
        if inv.group_ids.is_empty() { Vec::new() } else { groups::refs(&state.stores, &inv.group_ids).await? };
    Ok(InvitationView {
        id: inv.id,
        role: inv.role,
        groups,
        max_uses: inv.max_uses,
        uses: inv.uses,
        remaining_uses: inv.remaining_uses(),
        max_usage: inv.max_uses,
        usage_count: inv.uses,
        expires_at: inv.expires_at,
        is_valid: inv.is_valid(Timestamp::now()),
        created_by: inv.created_by.clone(),
        created_at: inv.created_at,
        code_prefix: inv.code_prefix.clone(),
    })
}

#[utoipa::path(get, path = "/api/auth/invitations", tag = "invitations", params(page::PageQuery),
    responses((status = 200, description = "A page of invitations (never the codes)", body = Vec<InvitationView>), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Query(q): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let after = page::decode_id('i', q.cursor.as_deref())?;
    let (found, next) = invitations::list(&state.stores, limit, after).await?;
    let mut views = Vec::with_capacity(found.len());
    for inv in &found {
        views.push(view(&state, inv).await?);
    }
    Ok(page::respond(views, next.map(|id| page::encode_id('i', id))))
}

#[utoipa::path(delete, path = "/api/auth/invitations/{id}", tag = "invitations",
    params(("id" = u64, Path, description = "Invitation id")),
    responses((status = 200, description = "Revoked", body = shared::http::openapi::Message), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<Value>> {
    let invitation =
        invitations::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Invitation not found"))?;
    let event = client.event(caller.actor(), "invitation.revoke", Outcome::Success).target(format!("invitation:{id}"));
    if !invitations::revoke(&state.stores, &invitation, &event, state.config.audit_retention_days).await? {
        return Err(ApiError::not_found("Invitation not found"));
    }
    Ok(Json(json!({"message": format!("Invitation {id} revoked")})))
}
