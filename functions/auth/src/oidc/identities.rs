//! A user's linked identities: `POST /api/auth/oidc/{provider}/link` (start
//! linking one to the logged-in user), `GET /api/auth/identities`,
//! `DELETE /api/auth/identities/{id}`; and the admins' read-only view of the
//! providers, `GET /api/auth/oidc/providers/config`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::audit::Outcome;
use shared::auth::{Authenticated, ClientInfo, Require, min};
use shared::http::extract::{Path, Query};
use shared::http::openapi::Message;
use shared::oidc::flow;
use shared::oidc::provision;
use shared::oidc::store::{self, Link};
use shared::oidc::view::{LinkStart, ProviderSettingsView};
use shared::{ApiError, ApiResult, AppState};

use super::flow::provider;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// Where to land after linking: a path of this service (anything else becomes `/`).
    next: Option<String>,
}

/// Starts linking an identity at `provider` to the caller's account: answers
/// the provider's URL for the browser to visit (the panel navigates there);
/// the callback links the identity to this user, as long as the browser
/// still holds this session, and lands on `next`.
#[utoipa::path(post, path = "/api/auth/oidc/{provider}/link", tag = "auth",
    params(("provider" = String, Path, description = "A provider id"), LinkQuery),
    responses(
        (status = 200, description = "The provider URL to send the browser to", body = LinkStart),
        (status = 403, description = "Not a browser session (linking finishes in the browser that holds the session); `service_account` for a service account", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "Unknown provider", body = shared::http::openapi::ErrorBody),
        (status = 503, description = "The provider or a store is unreachable", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn link(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<LinkQuery>,
) -> ApiResult<Json<LinkStart>> {
    if caller.user().is_some_and(|u| u.is_service()) {
        return Err(shared::oidc::OidcError::ServiceAccount.into());
    }
    let user_id = caller.user_id().filter(|_| caller.session_hash().is_some()).ok_or_else(|| {
        ApiError::forbidden("session_required", "Linking an identity needs a browser session of your own account")
    })?;
    let (provider, callback) = provider(&state, &id)?;
    let next = flow::same_origin_path(query.next.as_deref());
    let started =
        flow::begin(&state.keys.oidc, &state.stores.redis, provider, &callback, next, Some(user_id), None).await?;
    Ok(Json(LinkStart { url: started.url }))
}

/// The caller's linked identities.
#[utoipa::path(get, path = "/api/auth/identities", tag = "auth",
    responses((status = 200, description = "Own linked identities", body = Vec<Link>)))]
pub async fn list(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<Vec<Link>>> {
    let Some(user_id) = caller.user_id() else { return Ok(Json(Vec::new())) };
    Ok(Json(store::list(&state.stores, user_id).await?))
}

/// Unlinks one of the caller's identities; never the account's last way to
/// log in (a password, a passkey or another identity must remain).
#[utoipa::path(delete, path = "/api/auth/identities/{id}", tag = "auth",
    params(("id" = String, Path, description = "An identity id as `GET /api/auth/identities` lists it")),
    responses(
        (status = 200, description = "Unlinked", body = Message),
        (status = 404, description = "No such identity of yours", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "`last_login_method`: the account's last way to log in", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn unlink(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<Json<Message>> {
    let user_id = caller.user_id().ok_or_else(|| ApiError::not_found("No such identity is linked to this user"))?;
    let event = client
        .event(caller.actor(), "identity.unlink", Outcome::Success)
        .target(format!("user:{user_id} identity:{}", short(&id)));
    let link = provision::unlink(&state.stores, user_id, &id, &event).await?;
    Ok(Json(Message { message: format!("Unlinked the identity of {}", link.provider) }))
}

/// An identity id as audit targets show it.
pub fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// The providers and their mapping rules as configured, client secrets
/// masked (admins).
#[utoipa::path(get, path = "/api/auth/oidc/providers/config", tag = "auth",
    responses(
        (status = 200, description = "Every provider's settings, secrets masked", body = Vec<ProviderSettingsView>),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn settings(State(state): State<AppState>, _admin: Require<min::Admin>) -> Json<Vec<ProviderSettingsView>> {
    let public_url = state.config.public_url.as_deref().unwrap_or("");
    Json(
        state
            .keys
            .oidc
            .providers
            .iter()
            .map(|p| ProviderSettingsView::new(p, flow::redirect_uri(public_url, &p.id)))
            .collect(),
    )
}
