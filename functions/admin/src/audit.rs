//! `GET /api/admin/audit`: the audit log, newest first, filtered by `actor`
//! (or `actor_id`), `action`, `since` and `until` (RFC 3339), paginated.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use shared::audit::{self, ActorFilter, AuditEventView, AuditQuery};
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Query;
use shared::http::page;
use shared::types::Timestamp;
use shared::users;
use shared::users::Username;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only events of this actor: a username (the user who has it now; an
    /// unknown name gives an empty page), `_system` (the admin secret, or auth
    /// disabled) or `_anonymous` (unauthenticated callers).
    #[param(max_length = 100)]
    actor: Option<String>,
    /// Only events of the user with this id (also a deleted user's). Not
    /// together with `actor`.
    actor_id: Option<u64>,
    /// Only events of this action (e.g. `auth.login`).
    #[param(max_length = 100)]
    action: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Only events at or before this time (RFC 3339; default now).
    #[param(format = DateTime)]
    until: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    cursor: Option<String>,
}

fn time(field: &str, raw: Option<&str>) -> ApiResult<Option<Timestamp>> {
    raw.map(|r| Timestamp::parse(r).ok_or_else(|| ApiError::invalid(field, "expected an RFC 3339 time"))).transpose()
}

#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", params(AuditParams),
    responses((status = 200, description = "A page of audit events, newest first", body = Vec<AuditEventView>), (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Query(params): Query<AuditParams>,
) -> ApiResult<Response> {
    let limit = page::limit(params.limit)?;
    let now = Timestamp::now();
    let until = time("until", params.until.as_deref())?.unwrap_or(now);
    // Nothing older than the retention exists, so that bounds the default search.
    let retention = i64::from(state.stores.audit_retention_days) * 86_400;
    let since = time("since", params.since.as_deref())?.unwrap_or_else(|| until.plus_secs(-retention));
    if since > until {
        return Err(ApiError::invalid("since", "must not be after until"));
    }
    // No event is newer than now (a day of clock skew allowed) or older than
    // the retention (plus two days of TTL deletion lag). Clamping to that keeps
    // the month-by-month search bounded whatever the client asks (year 1 to
    // 9999 would be a hundred thousand queries) and the sort keys comparable
    // (13 digits, never negative).
    let since = since.max(now.plus_secs(-retention - 2 * 86_400));
    let until = until.min(now.plus_secs(86_400));
    if since > until {
        return Ok(page::respond(Vec::<AuditEventView>::new(), None));
    }
    // Filters become key values: bounded, so DynamoDB never sees an oversized key.
    for (field, value) in [("actor", &params.actor), ("action", &params.action)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 100) {
            return Err(ApiError::invalid(field, "must be at most 100 characters long"));
        }
    }
    let actor = match (params.actor.filter(|a| !a.is_empty()), params.actor_id) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("actor_id", "give either actor or actor_id, not both")),
        (None, Some(id)) => Some(ActorFilter::User(id)),
        (None, None) => None,
        (Some(name), None) => match actor_by_name(&state, &name).await? {
            Some(actor) => Some(actor),
            None => return Ok(page::respond(Vec::<AuditEventView>::new(), None)),
        },
    };
    let after = page::decode_checked(params.cursor.as_deref(), |p| {
        p.len() <= 512 && p.split_once('|').is_some_and(|(pk, sk)| pk.contains('#') && sk.contains('#'))
    })?
    .and_then(|p| p.split_once('|').map(|(pk, sk)| (pk.to_owned(), sk.to_owned())));
    let query = AuditQuery { actor, action: params.action.filter(|a| !a.is_empty()), since, until, limit, after };
    let (events, next) = audit::list(&state.stores, &query).await?;
    let events: Vec<AuditEventView> = events.into_iter().map(AuditEventView::from).collect();
    Ok(page::respond(events, next.map(|(pk, sk)| page::encode(&format!("{pk}|{sk}")))))
}

/// The index partition `name` selects: a pseudo actor's, or the id of the user
/// now called `name`; `None` when no one is.
async fn actor_by_name(state: &AppState, name: &str) -> ApiResult<Option<ActorFilter>> {
    if let Some(pseudo) = ActorFilter::pseudo(name) {
        return Ok(Some(pseudo));
    }
    let Ok(username) = Username::parse(name) else { return Ok(None) };
    Ok(users::find_by_username(&state.stores, &username.key()).await?.map(|user| ActorFilter::User(user.id)))
}
