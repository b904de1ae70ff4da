//! `GET /api/auth/tokens/all`: every token of every user, for admins, with
//! filters (owner, scope, expiring soon, past the lifetime cap).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::auth::{Require, ensure_enabled, min};
use shared::http::extract::Query;
use shared::http::page;
use shared::tokens::{self, AdminTokenView, Scope, TokenRecord};
use shared::types::Timestamp;
use shared::{ApiError, ApiResult, AppState, users};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Only this user's tokens.
    owner: Option<u64>,
    /// Only tokens that hold this scope (`inherit` holds every one).
    scope: Option<String>,
    /// Only tokens that expire within this many days (1-3650).
    #[param(minimum = 1, maximum = 3650)]
    expiring_within_days: Option<u32>,
    /// Only tokens that live longer than `TOKEN_MAX_LIFETIME_DAYS` allows.
    past_cap: Option<bool>,
    /// Page size, 1 to 200 (default 100).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of tokens.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AllTokens {
    tokens: Vec<AdminTokenView>,
    /// Where the next page starts; null on the last.
    next_cursor: Option<String>,
    /// `TOKEN_MAX_LIFETIME_DAYS`, if set.
    max_lifetime_days: Option<u32>,
}

#[utoipa::path(get, path = "/api/auth/tokens/all", tag = "tokens", params(Filter),
    responses((status = 200, description = "Every user's tokens (never the secrets), in no particular order", body = AllTokens),
        (status = 403, description = "Below admin", body = shared::http::openapi::ErrorBody)))]
pub async fn list_all(
    State(state): State<AppState>,
    _admin: Require<min::Admin>,
    Query(filter): Query<Filter>,
) -> ApiResult<Json<AllTokens>> {
    ensure_enabled(&state.config)?;
    let cap = state.config.token_max_lifetime_days;
    let keep = keeper(&filter, cap)?;
    let limit = match filter.limit {
        None => 100,
        Some(n @ 1..=200) => n as usize,
        Some(_) => return Err(ApiError::invalid("limit", "must be from 1 to 200")),
    };
    let (found, next) = match filter.owner {
        // One owner's tokens are one small query (at most 100 of them).
        Some(owner) => {
            let all = tokens::list_of(&state.stores, owner).await?;
            (all.into_iter().filter(|t| keep(t)).collect(), None)
        }
        None => {
            let start = page::decode_checked(filter.cursor.as_deref(), |p| {
                p.len() <= 200 && p.starts_with("TOKEN#") && !p.contains('\n')
            })?;
            let start = start.map(|pk| (pk, "TOKEN".to_owned()));
            tokens::list_all(&state.stores, start, limit, &keep).await?
        }
    };
    let mut owners: Vec<u64> = found.iter().map(|t| t.user_id).collect();
    owners.sort_unstable();
    owners.dedup();
    let users: HashMap<u64, users::UserRecord> =
        users::get_many(&state.stores, &owners).await?.into_iter().map(|u| (u.id, u)).collect();
    let tokens = found
        .iter()
        .map(|t| {
            let owner = users.get(&t.user_id);
            let username = owner.map(|u| u.username.clone()).unwrap_or_default();
            let kind = owner.map_or("human", |u| u.kind.as_str());
            AdminTokenView::new(t, username, kind, cap)
        })
        .collect();
    let next_cursor = next.map(|(pk, _)| page::encode(&pk));
    Ok(Json(AllTokens { tokens, next_cursor, max_lifetime_days: cap }))
}

/// The filter as a predicate, its values checked.
fn keeper(filter: &Filter, cap: Option<u32>) -> ApiResult<impl Fn(&TokenRecord) -> bool + use<>> {
    let scope = match filter.scope.as_deref() {
        None => None,
        Some(name) => Some(name.parse::<Scope>().map_err(|()| ApiError::invalid("scope", "is not a known scope"))?),
    };
    let expiring_by = match filter.expiring_within_days {
        None => None,
        Some(days @ 1..=3650) => Some(Timestamp::now().plus_secs(i64::from(days) * 86_400)),
        Some(_) => return Err(ApiError::invalid("expiring_within_days", "must be from 1 to 3650")),
    };
    let past_cap = filter.past_cap.unwrap_or(false);
    Ok(move |t: &TokenRecord| {
        scope.is_none_or(|s| t.grant.scopes.allow(s))
            && expiring_by.is_none_or(|by| t.expires_at.is_some_and(|e| e <= by))
            && (!past_cap || tokens::past_cap(t, cap))
    })
}
