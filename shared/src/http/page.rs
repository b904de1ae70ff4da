//! Paginated lists: `limit` (default 100, at most 500) and an
//! opaque `cursor` in; the body stays a JSON array and the next cursor leaves in
//! the `X-Next-Cursor` header. The users and invitations lists asked with
//! neither answer the whole list instead (see [`WHOLE_LIST_MAX`]).

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

/// The most rows a list answers when asked without `limit` and `cursor`: the
/// original dashboard asks that way and reads no cursor, so it gets the whole
/// list, up to this bound (far more users or invitations than a cluster
/// has), in at most `WHOLE_LIST_MAX / MAX_LIMIT` queries. Past it, the answer
/// carries `X-Next-Cursor` like any page.
pub const WHOLE_LIST_MAX: usize = 10_000;

/// Whether the query asks for one page (`limit` or `cursor` given) rather
/// than the whole list (see [`WHOLE_LIST_MAX`]).
pub fn is_paged(query: &PageQuery) -> bool {
    query.limit.is_some() || query.cursor.is_some()
}

/// Reads pages of at most [`MAX_LIMIT`] with `fetch` (given a page size and
/// where to continue after) until the list ends or [`WHOLE_LIST_MAX`] rows
/// are read; returns them and where the list goes on, if it does.
pub async fn whole<T, C, E, F, Fut>(mut fetch: F) -> Result<(Vec<T>, Option<C>), E>
where
    F: FnMut(usize, Option<C>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<C>), E>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let (items, next) = fetch(MAX_LIMIT.min(WHOLE_LIST_MAX - all.len()), after).await?;
        all.extend(items);
        match next {
            Some(position) if all.len() < WHOLE_LIST_MAX => after = Some(position),
            rest => return Ok((all, rest)),
        }
    }
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
