//! Issuing a token, the one domain call behind `POST /api/auth/tokens` (the
//! caller's own) and `POST /api/auth/service-accounts/{id}/tokens` (an
//! admin's, for a service account): the request checked against the
//! lifetime cap, the owner's role and the minter's own grant, then stored.

use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, Outcome};
use crate::auth::{Caller, ClientInfo, insufficient_scope};
use crate::config::Config;
use crate::db::Stores;
use crate::error::ApiError;
use crate::tokens::grant::Grant;
use crate::tokens::scope::{Resources, Scopes};
use crate::tokens::store::{self, CreateError, MAX_PER_USER, TokenRecord};
use crate::types::{Role, Timestamp};
use crate::users::parse_label;

/// A token to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewToken)]
pub struct TokenRequest {
    #[schema(schema_with = crate::http::openapi::name)]
    pub name: String,
    /// Days until it expires, 1 to 3650 (at most `TOKEN_MAX_LIFETIME_DAYS`
    /// where set); omitted, it never does, or lives the longest allowed.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// What it may do (docs/tokens.md); omitted: `["inherit"]`, all the
    /// owner's rights.
    #[schema(max_items = 8)]
    pub scopes: Option<Vec<String>>,
    /// The only objects it may act on, `vps:<id>` or `task:<id>`; omitted or
    /// empty: no limit.
    #[schema(max_items = 20)]
    pub resources: Option<Vec<String>>,
}

/// Shown once: the only time the token itself leaves the service.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CreatedToken)]
pub struct Created {
    pub id: u64,
    pub name: String,
    pub token: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub scopes: Vec<String>,
    pub resources: Vec<String>,
}

impl Created {
    pub fn new(token: String, record: TokenRecord) -> Self {
        Self {
            id: record.id,
            token,
            scopes: record.grant.scopes.names(),
            resources: record.grant.resources.names(),
            name: record.name,
            prefix: record.prefix,
            created_at: record.created_at,
            expires_at: record.expires_at,
        }
    }
}

/// The expiry of a token asked to live `days` (see docs/tokens.md): within
/// 1-3650 and the cap; with a cap and no `days`, the cap.
pub fn expiry(config: &Config, days: Option<u32>, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
    let days = match (days, config.token_max_lifetime_days) {
        (Some(days @ 1..=3650), Some(cap)) if days > cap => {
            return Err(ApiError::invalid(
                "expires_in_days",
                format!("must be at most {cap} days, the longest a token may live here (TOKEN_MAX_LIFETIME_DAYS)"),
            ));
        }
        (Some(days @ 1..=3650), _) => Some(days),
        (Some(_), Some(cap)) => {
            return Err(ApiError::invalid(
                "expires_in_days",
                format!("must be from 1 to {cap} (TOKEN_MAX_LIFETIME_DAYS)"),
            ));
        }
        (Some(_), None) => {
            return Err(ApiError::invalid("expires_in_days", "must be from 1 to 3650 (omit it for no expiry)"));
        }
        (None, cap) => cap,
    };
    Ok(days.map(|days| now.plus_secs(i64::from(days) * 86_400)))
}

/// On whose authority a token is minted for another user: what the write
/// re-checks of the minter when it commits.
#[derive(Debug, Clone, Copy)]
pub enum Authority {
    /// The caller's own token.
    Own,
    /// An admin's (for a service account).
    Admin,
    /// A manager of this group (for a service account the group owns).
    Manager(u64),
}

/// Creates the token `request` asks for, owned by user `owner` (holding
/// `owner_role`), on behalf of `minter`. A minter using a token may give
/// only what that token holds.
pub async fn issue(
    stores: &Stores,
    config: &Config,
    client: &ClientInfo,
    (minter, authority): (&Caller, Authority),
    (owner, owner_role): (u64, Role),
    request: &TokenRequest,
) -> Result<(String, TokenRecord), ApiError> {
    let name = parse_label("name", &request.name, 100)?;
    let expires_at = expiry(config, request.expires_in_days, Timestamp::now())?;
    let grant = Grant {
        scopes: Scopes::parse(request.scopes.as_deref(), owner_role)?,
        resources: Resources::parse(request.resources.as_deref())?,
    };
    if let Some(held) = minter.grant() {
        if !held.scopes.covers(grant.scopes) {
            let missing = grant.scopes.iter().find(|s| !held.scopes.allow(*s)).unwrap_or(crate::tokens::Scope::Inherit);
            return Err(insufficient_scope(missing));
        }
        if !held.resources.covers(&grant.resources) {
            return Err(ApiError::forbidden(
                "token_resource_limited",
                "This API token may only mint tokens limited to resources it holds itself",
            ));
        }
    }
    let audit = |t: &TokenRecord| -> AuditEvent {
        let scopes = t.grant.scopes.names().join(" ");
        let resources = t.grant.resources.names().join(" ");
        let mut detail = format!("scopes: {scopes}");
        if !resources.is_empty() {
            detail.push_str(&format!("; resources: {resources}"));
        }
        let event = client
            .event(minter.actor(), "token.create", Outcome::Success)
            .target(format!("token:{} {} of user:{}", t.id, t.name, t.user_id))
            .detail(detail);
        match authority {
            Authority::Own => event,
            Authority::Admin => event.requiring(Role::Admin),
            Authority::Manager(group) => event.managing(group),
        }
    };
    match store::create(stores, owner, &name, expires_at, grant, audit).await {
        Ok(issued) => Ok((issued.token, issued.record)),
        Err(CreateError::NameTaken) => {
            Err(ApiError::conflict("token_name_taken", format!("There is already a token named {name:?}")))
        }
        Err(CreateError::TooMany) => Err(ApiError::conflict(
            "too_many_tokens",
            format!("The owner holds {MAX_PER_USER} tokens, the most allowed; revoke unused ones first"),
        )),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}
