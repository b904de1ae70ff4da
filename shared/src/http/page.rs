//! Paginated lists: `limit` (default 100, at most 500) and an
//! opaque `cursor` in; the body stays a JSON array and the next cursor leaves in
//! the `X-Next-Cursor` header.

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::error::ApiError;

/// The query string of a plain paginated list (`?limit=&cursor=`).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 500;
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// The page size asked for, checked.
pub fn limit(requested: Option<u32>) -> Result<usize, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as u32).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::invalid("limit", format!("must be from 1 to {MAX_LIMIT}"))),
    }
}

/// Wraps a position in an opaque cursor.
pub fn encode(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// Unwraps a cursor made by [`encode`]; anything else is a 422.
pub fn decode(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this service issued"))
}

/// Unwraps a cursor made by [`encode`] whose position `valid` accepts; a
/// forged position must never reach DynamoDB as a start key (an oversized key
/// is a store error there, not a client's).
pub fn decode_checked(cursor: Option<&str>, valid: impl Fn(&str) -> bool) -> Result<Option<String>, ApiError> {
    match cursor.map(decode).transpose()? {
        Some(position) if !valid(&position) => Err(ApiError::invalid("cursor", "is not a cursor this service issued")),
        position => Ok(position),
    }
}

/// A cursor naming the id to continue after, tagged with `kind` so cursors of
/// one list are not taken by another.
pub fn encode_id(kind: char, id: u64) -> String {
    encode(&format!("{kind}:{id}"))
}

/// Reads a cursor made by [`encode_id`] with the same `kind`; anything else is a 422.
pub fn decode_id(kind: char, cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(cursor) = cursor else { return Ok(None) };
    decode(cursor)?
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|id| id.parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this service issued"))
}

/// The items as a JSON array, with `X-Next-Cursor` when more may follow.
pub fn respond<T: Serialize>(items: Vec<T>, next: Option<String>) -> Response {
    let mut response = axum::Json(items).into_response();
    if let Some(cursor) = next.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(NEXT_CURSOR_HEADER, cursor);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(limit(None).expect("default"), 100);
        assert_eq!(limit(Some(500)).expect("max"), 500);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(501)).is_err());
        assert_eq!(decode(&encode("u|42")).expect("round trip"), "u|42");
        assert!(decode("%%%").is_err());
    }
}
