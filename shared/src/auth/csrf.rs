//! Cross-site request forgery protection for cookie-authenticated writes.
//!
//! A state-changing request that carries the session cookie (and every login
//! or registration, which would plant a session) is refused with 403 when the
//! browser says it is cross-site: `Sec-Fetch-Site` is `cross-site` or
//! `same-site`, or `Origin` is neither the service's own nor in
//! `ALLOWED_ORIGINS`. A request with neither header comes from a non-browser
//! client (curl, the CLIs) and passes; so does one authenticated by the
//! Authorization header, which a browser never adds on its own.
//!
//! Origins are compared whole, scheme included (see [`OwnOrigin`]): with
//! `COOKIE_SECURE` on, a page on `http://<host>` (which anyone on the network
//! path can forge) may not write with the cookie of `https://<host>`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::bearer::has_bearer;
use crate::auth::cookie;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::AppState;

/// Paths that start a session and so need protection without a cookie; the
/// login's later steps (`/api/auth/login/...`: the second factor, passkey
/// logins) start one too.
const SESSION_STARTING: [&str; 2] = ["/api/auth/login", "/api/auth/register"];

fn starts_session(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    SESSION_STARTING.contains(&path) || path.starts_with("/api/auth/login/")
}

pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if needs_check(request.method(), request.uri().path(), request.headers())
        && !same_origin(request.headers(), &OwnOrigin::of(&state.config), &state.config.allowed_origins)
    {
        return ApiError::forbidden("csrf_refused", "Cross-site request refused").into_response();
    }
    next.run(request).await
}

fn needs_check(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    !safe && !has_bearer(headers) && (cookie::session_token(headers).is_some() || starts_session(path))
}

/// What the service's own origin is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OwnOrigin {
    /// `PUBLIC_URL` is set: its scheme, host and port, whatever `Host` says.
    Fixed(String),
    /// `https://<Host>`, since the session cookie is `Secure` and a browser
    /// sends it only over https; `http://<Host>` too when the host is a
    /// loopback name or address (browsers send `Secure` cookies to
    /// `http://localhost`, and no one else can serve a page there).
    SecureHost,
    /// `COOKIE_SECURE=false`: `http://<Host>` or `https://<Host>`; the cookie
    /// travels over both, so neither is less trusted than the cookie.
    AnyHost,
}

impl OwnOrigin {
    fn of(config: &Config) -> Self {
        match &config.public_url {
            Some(url) => Self::Fixed(origin_of(url).to_owned()),
            None if config.cookie_secure => Self::SecureHost,
            None => Self::AnyHost,
        }
    }

    fn matches(&self, origin: &str, host: Option<&str>) -> bool {
        let Some((scheme, rest)) = origin.split_once("://") else { return false };
        match self {
            Self::Fixed(own) => own.eq_ignore_ascii_case(origin),
            Self::SecureHost | Self::AnyHost => {
                let Some(host) = host.filter(|h| rest.eq_ignore_ascii_case(h)) else { return false };
                match scheme.to_ascii_lowercase().as_str() {
                    "https" => true,
                    "http" => *self == Self::AnyHost || is_loopback(host),
                    _ => false,
                }
            }
        }
    }
}

/// `scheme://authority` of a URL (its path, query and fragment dropped).
fn origin_of(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    &url[..end]
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback(host: &str) -> bool {
    let name = if host.starts_with('[') {
        host.split_once(']').map_or(host, |(h, _)| h).trim_start_matches('[')
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn same_origin(headers: &HeaderMap, own: &OwnOrigin, allowed: &[String]) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && matches!(site, "cross-site" | "same-site")
    {
        return false;
    }
    match get(header::ORIGIN.as_str()) {
        None => true,
        Some(origin) => {
            own.matches(origin, get(header::HOST.as_str()))
                || allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
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
        assert!(needs_check(&Method::POST, "/api/auth/login/passkey/finish", &HeaderMap::new()));
        let both = headers(&[("cookie", "kohakuriver_session=a.b.c"), ("authorization", "Bearer x")]);
        assert!(!needs_check(&Method::POST, "/api/auth/logout", &both));
    }

    #[test]
    fn browsers_must_be_same_origin_and_other_clients_pass() {
        let own = OwnOrigin::SecureHost;
        assert!(same_origin(&HeaderMap::new(), &own, &[]));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")]), &own, &[]));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")]), &own, &[]));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")]), &own, &[]));
        assert!(same_origin(&headers(&[("origin", "https://krv.example"), ("host", "krv.example")]), &own, &[]));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("host", "krv.example")]), &own, &[]));
        assert!(!same_origin(&headers(&[("origin", "null"), ("host", "krv.example")]), &own, &[]));
        let allowed = vec!["https://panel.example".to_owned()];
        assert!(same_origin(&headers(&[("origin", "https://panel.example"), ("host", "api.example")]), &own, &allowed));
    }

    #[test]
    fn the_scheme_is_part_of_the_origin() {
        let check = |own: &OwnOrigin, origin: &str, host: &str| {
            same_origin(&headers(&[("origin", origin), ("host", host)]), own, &[])
        };
        // Secure cookies: only https, except on loopback.
        let secure = OwnOrigin::SecureHost;
        assert!(check(&secure, "https://krv.example", "krv.example"));
        assert!(!check(&secure, "http://krv.example", "krv.example"));
        assert!(!check(&secure, "ftp://krv.example", "krv.example"));
        assert!(!check(&secure, "https://krv.example:8443", "krv.example"), "the port is part of the origin");
        assert!(check(&secure, "http://127.0.0.1:8000", "127.0.0.1:8000"));
        assert!(check(&secure, "http://localhost:8000", "localhost:8000"));
        assert!(check(&secure, "http://[::1]:8000", "[::1]:8000"));
        assert!(!check(&secure, "http://localhost.evil.example", "localhost.evil.example"));
        // Plain cookies travel over both schemes.
        assert!(check(&OwnOrigin::AnyHost, "http://krv.example", "krv.example"));
        assert!(check(&OwnOrigin::AnyHost, "https://krv.example", "krv.example"));
        // PUBLIC_URL fixes the origin, whatever Host says.
        let fixed = OwnOrigin::Fixed(origin_of("https://krv.example:8443/base/").to_owned());
        assert_eq!(fixed, OwnOrigin::Fixed("https://krv.example:8443".into()));
        assert!(check(&fixed, "https://krv.example:8443", "internal:8000"));
        assert!(!check(&fixed, "http://krv.example:8443", "krv.example:8443"));
        assert!(!check(&fixed, "https://internal:8000", "internal:8000"));
        // ALLOWED_ORIGINS entries are whole origins, scheme included.
        let allowed = vec!["https://panel.example".to_owned()];
        let panel =
            |origin: &str| same_origin(&headers(&[("origin", origin), ("host", "api.example")]), &secure, &allowed);
        assert!(panel("https://panel.example"));
        assert!(!panel("http://panel.example"));
    }
}
