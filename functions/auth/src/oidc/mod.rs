//! Single sign-on (`/api/auth/oidc/*`, `/api/auth/identities*`; SPEC §11,
//! docs/sso.md): the browser's login through a provider (`flow.rs`: start
//! and callback, which always answer with a redirect), and a user's linked
//! identities (`identities.rs`). The domain is `shared::oidc`.

pub mod cli;
pub mod flow;
pub mod identities;

use axum::http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A 302 to `location` (a path of ours or the provider's URL) with cookies;
/// never cached, as it carries one-time values.
fn redirect(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => headers.insert(LOCATION, value),
        Err(_) => headers.insert(LOCATION, HeaderValue::from_static("/login?sso_error=Sign-in+failed")),
    };
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        headers.append(SET_COOKIE, cookie.clone());
    }
    response
}

/// A `Set-Cookie` header value (the values here are ASCII by construction).
fn cookie(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}
