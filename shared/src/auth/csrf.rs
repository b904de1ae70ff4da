//! Cross-site request forgery protection for cookie-authenticated writes.
//!
//! A state-changing request that carries the session cookie (and every login
//! or registration, which would plant a session) is refused with 403 when the
//! browser says it is cross-site: `Sec-Fetch-Site` is `cross-site` or
//! `same-site`, or `Origin` is neither the service's own nor in
//! `ALLOWED_ORIGINS`. A request with neither header comes from a non-browser
//! client (curl, the CLIs) and passes; so does one authenticated by the
//! Authorization header, which a browser never adds on its own.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::caller::has_bearer;
use super::cookie;
use crate::app::AppState;
use crate::error::ApiError;

/// Paths that start a session and so need protection without a cookie.
const SESSION_STARTING: [&str; 2] = ["/api/auth/login", "/api/auth/register"];

pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if needs_check(request.method(), request.uri().path(), request.headers())
        && !same_origin(request.headers(), &state.config.allowed_origins)
    {
        return ApiError::forbidden("csrf_refused", "Cross-site request refused").into_response();
    }
    next.run(request).await
}

fn needs_check(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    !safe
        && !has_bearer(headers)
        && (cookie::session_token(headers).is_some() || SESSION_STARTING.contains(&path.trim_end_matches('/')))
}

fn same_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && matches!(site, "cross-site" | "same-site")
    {
        return false;
    }
    match get(header::ORIGIN.as_str()) {
        None => true,
        Some(origin) => {
            let own = get(header::HOST.as_str())
                .is_some_and(|host| origin.split_once("://").is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host)));
            own || allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn only_cookie_writes_and_logins_are_checked() {
        let cookie = headers(&[("cookie", "kohakuriver_session=a.b.c")]);
        assert!(needs_check(&Method::POST, "/api/auth/logout", &cookie));
        assert!(!needs_check(&Method::GET, "/api/auth/me", &cookie));
        assert!(!needs_check(&Method::POST, "/api/tasks", &HeaderMap::new()));
        assert!(needs_check(&Method::POST, "/api/auth/login", &HeaderMap::new()));
        let both = headers(&[("cookie", "kohakuriver_session=a.b.c"), ("authorization", "Bearer x")]);
        assert!(!needs_check(&Method::POST, "/api/auth/logout", &both));
    }

    #[test]
    fn browsers_must_be_same_origin_and_other_clients_pass() {
        assert!(same_origin(&HeaderMap::new(), &[]));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")]), &[]));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")]), &[]));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")]), &[]));
        assert!(same_origin(&headers(&[("origin", "https://krv.example"), ("host", "krv.example")]), &[]));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("host", "krv.example")]), &[]));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "krv.example")]), &[]));
        let allowed = vec!["https://panel.example".to_owned()];
        assert!(same_origin(&headers(&[("origin", "https://panel.example"), ("host", "api.example")]), &allowed));
    }
}
