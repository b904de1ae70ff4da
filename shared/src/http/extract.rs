//! Extractors whose rejections use the service's error shape: a JSON body, a
//! query string and path parameters.

use crate::error::{ApiError, FieldError};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// The request body limit (see docs/limits.md).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Like `axum::Json`, but a bad body answers `{"detail", "code", "errors"}`:
/// 400 for malformed JSON, 422 for a well-formed body of the wrong shape,
/// 413 beyond [`BODY_LIMIT`], 415 without a JSON content type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn rejection_to_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            // serde's message reads "path: problem at line 1 column 9"; keep the
            // path as the field and the problem as the message.
            let text = err.body_text();
            let text = text.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
            let (field, message) = match text.split_once(": ") {
                Some((path, msg)) if !path.contains(' ') => (path.to_owned(), msg.to_owned()),
                _ => ("body".to_owned(), text.to_owned()),
            };
            let message = strip_position(&message);
            ApiError::Validation {
                detail: format!("{field}: {message}"),
                errors: vec![FieldError::new(field, message)],
            }
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("invalid_json", "Request body is not valid JSON"),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType {
            detail: "Expected a request body with Content-Type: application/json".into(),
        },
        JsonRejection::BytesRejection(err) if err.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { limit: BODY_LIMIT }
        }
        other => {
            ApiError::bad_request("invalid_body", format!("Could not read the request body: {}", other.body_text()))
        }
    }
}

/// serde_json appends " at line L column C"; clients want the sentence only.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_owned(),
        None => message.to_owned(),
    }
}

/// Like `axum::extract::Query`; a bad query string is a 422 naming `query`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let QueryRejection::FailedToDeserializeQueryString(err) = rejection else {
                    return Err(ApiError::invalid("query", "could not read the query string"));
                };
                let text = err.body_text();
                let text = text.trim_start_matches("Failed to deserialize query string: ");
                Err(ApiError::invalid("query", text.to_owned()))
            }
        }
    }
}

/// Like `axum::extract::Path`; a parameter of the wrong type (say a word where an
/// id goes) is a 404: no object has that name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => Err(ApiError::not_found("Not found")),
            Err(other) => Err(ApiError::Internal(anyhow::anyhow!("path parameters: {}", other.body_text()))),
        }
    }
}
