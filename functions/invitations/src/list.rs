//! `GET /api/auth/invitations` and `DELETE /api/auth/invitations/{id}` (admin).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use shared::audit::Outcome;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::{Path, Query};
use shared::http::openapi::Message;
use shared::http::page;
use shared::invitations::{self, InvitationView};
use shared::{ApiError, ApiResult, AppState};

#[utoipa::path(get, path = "/api/auth/invitations", tag = "invitations", params(page::PageQuery),
    responses((status = 200, description = "A page of invitations (never the codes)", body = Vec<InvitationView>), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Query(q): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let (found, next) = if page::is_paged(&q) {
        let limit = page::limit(q.limit)?;
        let after = page::decode_id('i', q.cursor.as_deref())?;
        invitations::list(&state.stores, limit, after).await?
    } else {
        page::whole(|limit, after| invitations::list(&state.stores, limit, after)).await?
    };
    let views = InvitationView::read_all(&state.stores, &found).await?;
    Ok(page::respond(views, next.map(|id| page::encode_id('i', id))))
}

#[utoipa::path(delete, path = "/api/auth/invitations/{id}", tag = "invitations",
    params(("id" = u64, Path, description = "Invitation id")),
    responses((status = 200, description = "Revoked", body = Message), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<Message>> {
    let invitation =
        invitations::get(&state.stores, id).await?.ok_or_else(|| ApiError::not_found("Invitation not found"))?;
    let event = client.event(caller.actor(), "invitation.revoke", Outcome::Success).target(format!("invitation:{id}"));
    if !invitations::revoke(&state.stores, &invitation, &event).await? {
        return Err(ApiError::not_found("Invitation not found"));
    }
    Ok(Json(Message { message: format!("Invitation {id} revoked") }))
}
