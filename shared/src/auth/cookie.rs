//! The session cookie `kohakuriver_session` (the original clients read it).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub const SESSION_COOKIE: &str = "kohakuriver_session";

/// The `Set-Cookie` value that stores `token` for `max_age_secs`.
pub fn set(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}")
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}")
}

/// The session cookie's value, if the request carries one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    named(headers, SESSION_COOKIE).filter(|v| !v.is_empty())
}

/// The value of the cookie `name`, if the request carries one.
pub fn named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "theme=dark; kohakuriver_session=abc.def.ghi; lang=en".parse().expect("header"));
        assert_eq!(session_token(&headers).as_deref(), Some("abc.def.ghi"));
        headers.insert(COOKIE, "kohakuriver_session=".parse().expect("header"));
        assert_eq!(session_token(&headers), None);
    }

    #[test]
    fn flags_are_as_specified() {
        assert_eq!(set("t", 60, true), "kohakuriver_session=t; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure");
        assert!(!set("t", 60, false).contains("Secure"));
        assert!(clear(true).contains("Max-Age=0"));
    }
}
