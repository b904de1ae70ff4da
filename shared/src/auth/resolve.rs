//! Credential resolution. Order: `X-Admin-Secret`/`X-Admin-Token`, then the
//! session (the `Authorization: Bearer` header, else the `kohakuriver_session`
//! cookie), then an API token, else anonymous. A wrong admin secret is always a
//! 401, never a fall-through. The Authorization header wins over the cookie
//! when both are sent: it is the explicit choice, and it is what exempts a
//! request from CSRF checks. Warm, a session or token costs one Redis round
//! trip and no DynamoDB call, and a handler's own Redis reads may ride on
//! that round trip ([`resolve_along`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use secrecy::ExposeSecret;

use super::bearer::bearer;
use super::caller::{ANONYMOUS_USERNAME, Caller, Identity, SYSTEM_USERNAME, Via};
use super::client::ClientInfo;
use super::cookie;
use super::session_token::looks_like_jwt;
use crate::audit::{self, Outcome};
use crate::crypto::{constant_time_eq, sha256_hex};
use crate::error::ApiError;
use crate::http::AppState;
use crate::identity;
use crate::tokens::{Needs, Scope};
use crate::types::{Role, Timestamp};
use crate::{sessions, tokens, users};

/// The result of resolution, kept in the request's extensions so several
/// extractors on one request resolve once.
#[derive(Debug, Clone)]
pub(super) enum Resolved {
    Caller(Caller),
    /// Credentials were presented but are not valid (expired, revoked, forged,
    /// or their user is deactivated or gone).
    Invalid,
}

const ADMIN_SECRET_HEADERS: [&str; 2] = ["x-admin-secret", "x-admin-token"];

pub(super) async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Resolved, ApiError> {
    let resolved = match parts.extensions.get::<Resolved>() {
        Some(resolved) => resolved.clone(),
        None => {
            let (resolved, _) = resolve_uncached(parts, state, &[]).await?;
            parts.extensions.insert(resolved.clone());
            resolved
        }
    };
    within_grant(parts, &resolved)?;
    Ok(resolved)
}

/// A token caller must hold the scope the route declares (see
/// `http::routes`), and a resource-limited one may only call the routes
/// that honour resource limits. A route declared without [`Needs`] (test
/// probes) takes only tokens holding all their owner's rights.
fn within_grant(parts: &Parts, resolved: &Resolved) -> Result<(), ApiError> {
    let Resolved::Caller(caller) = resolved else {
        return Ok(());
    };
    let Some(grant) = caller.grant() else {
        return Ok(());
    };
    let needs = parts.extensions.get::<Needs>().copied().unwrap_or(Needs::from(Scope::Inherit));
    if let Some(scope) = needs.scope {
        caller.needs(scope)?;
    }
    if grant.resources.is_limited() && !needs.resources {
        return Err(ApiError::forbidden(
            "token_resource_limited",
            format!(
                "This API token may act only on {}; this request acts on other objects",
                grant.resources.names().join(", ")
            ),
        ));
    }
    Ok(())
}

/// Resolves the caller with `along` (plain Redis reads a handler needs)
/// sent in the same round trip as the session or token lookup; answers one
/// value per command of `along`. Callers that need no lookup (anonymous, the
/// admin secret, unreadable credentials) get them in a round trip of their own.
pub(super) async fn resolve_along(
    parts: &mut Parts,
    state: &AppState,
    along: &[redis::Cmd],
) -> Result<(Resolved, Vec<redis::Value>), ApiError> {
    let (resolved, answers) = resolve_uncached(parts, state, along).await?;
    parts.extensions.insert(resolved.clone());
    within_grant(parts, &resolved)?;
    let answers = match answers {
        Some(answers) => answers,
        None if along.is_empty() => Vec::new(),
        None => state.stores.redis.reads_along(&[], along).await?.1,
    };
    Ok((resolved, answers))
}

/// A resolution and, when the lookup carried them, the answers to `along`.
type Found = (Resolved, Option<Vec<redis::Value>>);

async fn resolve_uncached(parts: &mut Parts, state: &AppState, along: &[redis::Cmd]) -> Result<Found, ApiError> {
    if !state.config.auth_enabled {
        let system = Caller { identity: Identity::System, via: Via::AuthDisabled, acting: Role::Viewer };
        return Ok((Resolved::Caller(system), None));
    }
    let presented_secret =
        ADMIN_SECRET_HEADERS.iter().find_map(|h| parts.headers.get(*h)).map(|v| v.to_str().unwrap_or("").to_owned());
    if let Some(given) = presented_secret {
        return Ok((Box::pin(admin_secret(parts, state, &given)).await?, None));
    }
    let token = bearer(&parts.headers).or_else(|| cookie::session_token(&parts.headers));
    match token {
        None => Ok((Resolved::Caller(Caller::anonymous()), None)),
        Some(token) if looks_like_jwt(&token) => session(state, &token, along).await,
        Some(token) if token.starts_with(tokens::PREFIX) => api_token(state, &token, along).await,
        Some(_) => Ok((Resolved::Invalid, None)),
    }
}

/// Checks the break-glass secret and audits the use: every success, and the
/// first failure per client address and minute (see [`admin_secret_failures`]).
async fn admin_secret(parts: &mut Parts, state: &AppState, given: &str) -> Result<Resolved, ApiError> {
    let valid = state.config.admin_secret.as_ref().is_some_and(|s| constant_time_eq(given, s.expose_secret()));
    let client = ClientInfo::from_request_parts(parts, &()).await.unwrap_or_else(|never| match never {});
    let target = format!("{} {}", parts.method, parts.uri.path());
    let event = if valid {
        Some(client.event((SYSTEM_USERNAME.into(), None), "admin_secret.use", Outcome::Success))
    } else {
        admin_secret_failures(state, &client).await.map(|detail| {
            let event = client.event((ANONYMOUS_USERNAME.into(), None), "admin_secret.use", Outcome::Failure);
            event.reason("wrong_secret").detail(detail)
        })
    };
    if let Some(event) = event {
        audit::record(&state.stores, &event.target(target)).await?;
    }
    if valid {
        Ok(Resolved::Caller(Caller { identity: Identity::System, via: Via::AdminSecret, acting: Role::Viewer }))
    } else {
        Err(ApiError::unauthorized("Invalid admin secret"))
    }
}

async fn session(state: &AppState, token: &str, along: &[redis::Cmd]) -> Result<Found, ApiError> {
    let Some(claims) = state.keys.sessions.verify(token) else {
        return Ok((Resolved::Invalid, None));
    };
    let Ok(user_id) = claims.sub.parse::<u64>() else {
        return Ok((Resolved::Invalid, None));
    };
    let hash = sha256_hex(&claims.sid);
    let now = Timestamp::now().millis();
    let redis = &state.stores.redis;
    let (found, answers) = sessions::authenticate(redis, &hash, user_id, now, along).await?;
    let answers = Some(answers);
    let Some(found) = found.filter(|f| f.session.user_id == user_id) else {
        return Ok((Resolved::Invalid, answers));
    };
    let Some(user) = identity::current(&state.stores, user_id, found.cached_user).await? else {
        return Ok((Resolved::Invalid, answers));
    };
    // A session from another credential generation was born before a password
    // change, reset or deactivation (or in a race with one): it is over.
    if user.deleted || !user.is_active || found.session.epoch != user.epoch {
        return Ok((Resolved::Invalid, answers));
    }
    if found.stamp_last_seen {
        stamp_last_seen(state, user_id, now).await;
    }
    let caller = Caller {
        identity: Identity::User(user),
        via: Via::Session { hash, expires_at_ms: found.session.expires_at_ms, provider_mfa: found.provider_mfa },
        acting: Role::Viewer,
    };
    Ok((Resolved::Caller(caller), answers))
}

/// How long a request waits for its activity stamps (`last_seen_at`,
/// `last_used_at`). They are best effort and may be a minute stale anyway;
/// unbounded, a due stamp made a request wait out a whole store timeout on a
/// hung DynamoDB before doing its own work, and a token request with both
/// stamps due waited out two (3 s with the default timeout) — past the 2 s
/// in which every answer, 503 included, must come. A healthy DynamoDB answers
/// an UpdateItem in a few milliseconds, far inside this budget.
const STAMP_BUDGET: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs one activity stamp within [`STAMP_BUDGET`]; a failure or an overrun
/// is worth a log line, not a failed or late request.
async fn stamp(what: &'static str, write: impl Future<Output = Result<(), crate::db::StoreError>>) {
    // Boxed, as every cold path of resolution: a DynamoDB write's future is
    // large, and warm requests would otherwise carry (and copy) its space.
    match tokio::time::timeout(STAMP_BUDGET, Box::pin(write)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not record {what}"),
        Err(_) => tracing::warn!("recording {what} took over {STAMP_BUDGET:?}; skipped"),
    }
}

/// Records activity (see [`stamp`]).
async fn stamp_last_seen(state: &AppState, user_id: u64, now_ms: i64) {
    stamp("last_seen_at", users::touch_last_seen(&state.stores, user_id, Timestamp::from_millis(now_ms))).await;
}

/// An API token: valid while it exists, has not expired and its owner is
/// active; the caller acts with the owner's current role.
async fn api_token(state: &AppState, token: &str, along: &[redis::Cmd]) -> Result<Found, ApiError> {
    // A made-up or mistyped token (wrong shape or checksum) costs no store call.
    if !tokens::is_well_formed(token) {
        return Ok((Resolved::Invalid, None));
    }
    let hash = sha256_hex(token);
    let named = tokens::owner_of(token);
    let now = Timestamp::now();
    let redis = &state.stores.redis;
    let (mut found, answers) = tokens::lookup(redis, &hash, named, along).await?;
    let answers = Some(answers);
    if found.token.is_none() {
        // A miss: read DynamoDB once, cache the answer, and look again (for the
        // owner's state and the activity markers); no such token needs no second look.
        let record = Box::pin(tokens::find(&state.stores, &hash)).await?;
        let Some(entry) = tokens::fill(redis, &hash, named, record.as_ref()).await? else {
            return Ok((Resolved::Invalid, answers));
        };
        found = tokens::lookup(redis, &hash, Some(entry.user_id), &[]).await?.0;
    }
    let Some(entry) = found.token.filter(|t| !t.missing) else {
        return Ok((Resolved::Invalid, answers));
    };
    if entry.expires_at_ms.is_some_and(|e| e <= now.millis()) {
        return Ok((Resolved::Invalid, answers));
    }
    let Some(owner) = identity::current(&state.stores, entry.user_id, found.owner).await? else {
        return Ok((Resolved::Invalid, answers));
    };
    if owner.deleted || !owner.is_active {
        return Ok((Resolved::Invalid, answers));
    }
    // Both stamps at once, so the request waits at most one budget for them.
    let used = async {
        if found.stamp_last_used {
            stamp("last_used_at", tokens::touch_last_used(&state.stores, &hash, now)).await;
        }
    };
    let seen = async {
        if found.stamp_last_seen {
            stamp_last_seen(state, owner.id, now.millis()).await;
        }
    };
    tokio::join!(used, seen);
    let via = Via::ApiToken { id: entry.id, grant: entry.grant() };
    let caller = Caller { identity: Identity::User(owner), via, acting: Role::Viewer };
    Ok((Resolved::Caller(caller), answers))
}

/// Counts a wrong admin secret from `client`'s address in a fixed one-minute
/// window, in one Redis round trip, and answers the detail of the audit event
/// to write: only for the window's first failure, so a flood of wrong secrets
/// writes at most one audit item per address and minute; the detail carries
/// how many failures the address made in the minute before (the ones not
/// audited one by one). Without Redis every failure is audited, as before.
async fn admin_secret_failures(state: &AppState, client: &ClientInfo) -> Option<String> {
    // KEYS: this window's counter, the previous window's; ARGV: the counter's life (ms).
    static COUNT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
        redis::Script::new(
            r"#!lua
local n = redis.call('INCR', KEYS[1])
if n > 1 then return {n, 0} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {n, tonumber(redis.call('GET', KEYS[2]) or '0')}
",
        )
    });
    const WINDOW_MS: i64 = 60_000;
    let redis = &state.stores.redis;
    let window = Timestamp::now().millis().div_euclid(WINDOW_MS);
    // Both windows of an address share its hash tag: one slot, one script.
    let key = |w: i64| redis.key(&format!("adminfail:{{{}}}:{w}", client.addr));
    let mut invocation = COUNT.prepare_invoke();
    invocation.key(key(window)).key(key(window - 1)).arg(2 * WINDOW_MS);
    match redis.invoke::<(u64, u64)>(&invocation).await {
        Ok((1, previous)) => Some(format!(
            "first wrong secret from this address this minute (later ones are counted, not audited); \
             {previous} in the minute before"
        )),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not count admin-secret failures; auditing this one");
            Some("not aggregated: the failure counter was unavailable".to_owned())
        }
    }
}
