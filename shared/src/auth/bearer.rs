//! The `Authorization: Bearer` credential: a session token or an API token
//! the client chose to send, which a browser never adds on its own.

use axum::http::{HeaderMap, header::AUTHORIZATION};

/// The bearer token of a request, if it sends one.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Whether the request authenticates with the Authorization header (CSRF-exempt).
pub fn has_bearer(headers: &HeaderMap) -> bool {
    bearer(headers).is_some()
}
