//! Providers' discovery documents and signing keys (JWKS), cached in Redis
//! for as long as the provider's `Cache-Control: max-age` says (within
//! [`MIN_TTL`]..[`MAX_TTL`]; [`DEFAULT_TTL`] without one), so every instance,
//! Lambda included, shares one copy and a login costs no fetch while it
//! lives. An ID token signed with a key the cached set does not have (the
//! provider rotated its keys) refetches the set once; such refetches are
//! limited to one per provider every [`REFRESH_GAP`], so a stream of tokens
//! with made-up key ids cannot make us hammer the provider.
//!
//! Keys, all in the provider's hash tag: `oidc:{p:<id>}:discovery`,
//! `oidc:{p:<id>}:jwks`, `oidc:{p:<id>}:jwks_refresh` (the refetch marker).

use std::time::Duration;

use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};

use super::{OidcError, ProviderConfig};
use crate::db::kv::Redis;

pub const MIN_TTL: Duration = Duration::from_secs(60);
pub const MAX_TTL: Duration = Duration::from_secs(86_400);
pub const DEFAULT_TTL: Duration = Duration::from_secs(3_600);
pub const REFRESH_GAP: Duration = Duration::from_secs(30);

/// The Redis key of a provider's cached `what` (`discovery`, `jwks`).
pub fn key(redis: &Redis, provider: &str, what: &str) -> String {
    redis.key(&format!("oidc:{{p:{provider}}}:{what}"))
}

/// The discovery URL of an issuer.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// The provider's metadata with its key set, from the cache or fetched (and
/// then cached).
pub async fn metadata(
    http: &reqwest::Client,
    redis: &Redis,
    provider: &ProviderConfig,
) -> Result<CoreProviderMetadata, OidcError> {
    let doc_key = key(redis, &provider.id, "discovery");
    let jwks_key = key(redis, &provider.id, "jwks");
    let (doc, jwks): (Option<String>, Option<String>) =
        redis.query(redis::cmd("MGET").arg(&doc_key).arg(&jwks_key)).await?;
    let doc = match doc {
        Some(doc) => doc,
        None => {
            let (doc, ttl) = fetch(http, &discovery_url(&provider.issuer)).await?;
            parse_metadata(provider, &doc)?;
            store(redis, &doc_key, &doc, ttl).await?;
            doc
        }
    };
    let metadata = parse_metadata(provider, &doc)?;
    let jwks = match jwks {
        Some(jwks) => jwks,
        None => {
            let (jwks, ttl) = fetch(http, metadata.jwks_uri().url().as_str()).await?;
            parse_jwks(&jwks)?;
            store(redis, &jwks_key, &jwks, ttl).await?;
            jwks
        }
    };
    Ok(metadata.set_jwks(parse_jwks(&jwks)?))
}

/// The provider's `end_session_endpoint` (RP-initiated logout), if its
/// discovery document names one (an https URL, or http on loopback).
pub async fn end_session_endpoint(
    http: &reqwest::Client,
    redis: &Redis,
    provider: &ProviderConfig,
) -> Result<Option<String>, OidcError> {
    metadata(http, redis, provider).await?;
    let doc: Option<String> = redis.query(redis::cmd("GET").arg(key(redis, &provider.id, "discovery"))).await?;
    let endpoint = doc
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .and_then(|d| d.get("end_session_endpoint").and_then(|v| v.as_str()).map(str::to_owned));
    Ok(endpoint.filter(|e| super::config::issuer_allowed(e)))
}

/// Refetches the provider's key set after a token named a key it lacks; `None`
/// when another refetch happened within [`REFRESH_GAP`].
pub async fn refresh_jwks(
    http: &reqwest::Client,
    redis: &Redis,
    provider: &ProviderConfig,
    metadata: &CoreProviderMetadata,
) -> Result<Option<CoreJsonWebKeySet>, OidcError> {
    let marker = key(redis, &provider.id, "jwks_refresh");
    let claimed: Option<String> =
        redis.query(redis::cmd("SET").arg(&marker).arg(1).arg("NX").arg("EX").arg(REFRESH_GAP.as_secs())).await?;
    if claimed.is_none() {
        return Ok(None);
    }
    let (jwks, ttl) = fetch(http, metadata.jwks_uri().url().as_str()).await?;
    let parsed = parse_jwks(&jwks)?;
    store(redis, &key(redis, &provider.id, "jwks"), &jwks, ttl).await?;
    Ok(Some(parsed))
}

fn parse_metadata(provider: &ProviderConfig, doc: &str) -> Result<CoreProviderMetadata, OidcError> {
    let metadata: CoreProviderMetadata = serde_json::from_str(doc)
        .map_err(|e| OidcError::Unreachable(format!("the discovery document does not parse: {e}")))?;
    // The issuer must be the one configured: a document naming another would
    // let that issuer's tokens pass for this provider's.
    if metadata.issuer().as_str().trim_end_matches('/') != provider.issuer {
        return Err(OidcError::Unreachable("the discovery document names another issuer".into()));
    }
    Ok(metadata)
}

fn parse_jwks(jwks: &str) -> Result<CoreJsonWebKeySet, OidcError> {
    serde_json::from_str(jwks).map_err(|e| OidcError::Unreachable(format!("the key set does not parse: {e}")))
}

async fn store(redis: &Redis, key: &str, value: &str, ttl: Duration) -> Result<(), OidcError> {
    redis.query::<()>(redis::cmd("SET").arg(key).arg(value).arg("EX").arg(ttl.as_secs())).await?;
    Ok(())
}

/// GETs `url` and answers its body and how long to cache it.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<(String, Duration), OidcError> {
    let unreachable = |e: reqwest::Error| OidcError::Unreachable(e.without_url().to_string());
    let response = http.get(url).header("accept", "application/json").send().await.map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(OidcError::Unreachable(format!("{url} answered {}", response.status())));
    }
    let ttl = cache_lifetime(response.headers().get("cache-control").and_then(|v| v.to_str().ok()));
    let body = response.text().await.map_err(unreachable)?;
    Ok((body, ttl))
}

/// The lifetime a `Cache-Control` value gives, bounded; `no-store` and
/// `no-cache` get the least ([`MIN_TTL`]) so logins do not fetch every time.
pub fn cache_lifetime(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else { return DEFAULT_TTL };
    let directives: Vec<String> = value.split(',').map(|d| d.trim().to_ascii_lowercase()).collect();
    if directives.iter().any(|d| d == "no-store" || d == "no-cache") {
        return MIN_TTL;
    }
    directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age=").and_then(|v| v.trim_matches('"').parse::<u64>().ok()))
        .map_or(DEFAULT_TTL, |secs| Duration::from_secs(secs).clamp(MIN_TTL, MAX_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_follow_cache_control_within_bounds() {
        assert_eq!(cache_lifetime(None), DEFAULT_TTL);
        assert_eq!(cache_lifetime(Some("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(cache_lifetime(Some("max-age=5")), MIN_TTL);
        assert_eq!(cache_lifetime(Some("max-age=99999999")), MAX_TTL);
        assert_eq!(cache_lifetime(Some("no-store")), MIN_TTL);
        assert_eq!(cache_lifetime(Some("private")), DEFAULT_TTL);
    }
}
