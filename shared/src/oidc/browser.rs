//! What single sign-on says to the browser: the binding cookie that ties a
//! login flow to the browser that started it, the panel pages a callback
//! lands on, and the provider's logout URL.
//!
//! The binding cookie `kohakuriver_sso` (random, HttpOnly, SameSite=Lax,
//! path `/api/auth/oidc`, ten minutes) is set by `/start`; the flow keeps
//! its hash, and the callback refuses a `state` whose browser does not send
//! it (a login link carried to another browser). Lax cookies travel on the
//! provider's top-level redirect back to us, so the binding survives the
//! cross-site hop.

use crate::auth::cookie;
use axum::http::HeaderMap;
use openidconnect::url::form_urlencoded;

use super::{OidcError, ProviderConfig, Registry, discovery};
use crate::crypto::random_token;
use crate::db::keys::user_tag;
use crate::db::kv::Redis;
use crate::db::{StoreError, kv};

pub const BINDING_COOKIE: &str = "kohakuriver_sso";
const BINDING_PATH: &str = "/api/auth/oidc";

/// The session field that names the provider a session came from.
pub const SESSION_PROVIDER_FIELD: &str = "oidc_provider";

/// The binding cookie the request carries, if it has the shape of one.
pub fn binding(headers: &HeaderMap) -> Option<String> {
    cookie::named(headers, BINDING_COOKIE)
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The request's binding cookie, or a new one (a browser running two logins
/// at once keeps one binding for both).
pub fn binding_or_new(headers: &HeaderMap) -> String {
    binding(headers).unwrap_or_else(|| random_token(32))
}

/// The `Set-Cookie` value of the binding cookie.
pub fn set_binding(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{BINDING_COOKIE}={value}; HttpOnly; SameSite=Lax; Path={BINDING_PATH}; Max-Age={}{secure}",
        super::flow::TTL_SECS
    )
}

/// The `Set-Cookie` value that removes the binding cookie.
pub fn clear_binding(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{BINDING_COOKIE}=; HttpOnly; SameSite=Lax; Path={BINDING_PATH}; Max-Age=0{secure}")
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The panel's login page showing why a sign-in failed.
pub fn login_error(error: &OidcError) -> String {
    format!("/login?sso_error={}", encode(&error.to_string()))
}

/// The panel's login page asking for the second factor of a sign-in (the
/// panel finishes it with `POST /api/auth/login/mfa` or the passkey step).
pub fn login_second_factor(mfa_token: &str, methods: &[&str], next: &str) -> String {
    format!("/login?mfa_token={}&methods={}&next={}", encode(mfa_token), encode(&methods.join(",")), encode(next))
}

/// The provider a session came from, if it came from one.
pub async fn session_provider(redis: &Redis, user_id: u64, hash: &str) -> Result<Option<String>, StoreError> {
    let key = redis.key(&format!("sess:{}:{hash}", user_tag(user_id)));
    redis.query(redis::cmd("HGET").arg(key).arg(SESSION_PROVIDER_FIELD)).await
}

/// Where the browser ends its session at `provider` (RP-initiated logout):
/// its `end_session_endpoint` with our `client_id` and the login page to
/// come back to; `None` when the provider has logout off or no endpoint.
/// No `id_token_hint` is sent: ID tokens are not kept after the login.
pub async fn logout_url(
    registry: &Registry,
    redis: &kv::Redis,
    provider: &ProviderConfig,
    public_url: Option<&str>,
) -> Result<Option<String>, OidcError> {
    if !provider.logout {
        return Ok(None);
    }
    let Some(endpoint) = discovery::end_session_endpoint(&registry.http, redis, provider).await? else {
        return Ok(None);
    };
    let mut url = format!(
        "{endpoint}{}client_id={}",
        if endpoint.contains('?') { '&' } else { '?' },
        encode(&provider.client_id)
    );
    if let Some(base) = public_url {
        url.push_str(&format!(
            "&post_logout_redirect_uri={}",
            encode(&format!("{}/login", base.trim_end_matches('/')))
        ));
    }
    Ok(Some(url))
}
