//! The one error type of the service.
//!
//! Every failure leaves as `{"detail": "<sentence>", "code": "<machine name>"}`
//! (plus `errors` on 422) with the right status. Internal errors are logged with
//! their cause and answered with a generic sentence; store outages are 503 with
//! `Retry-After`, never a 500.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::db::StoreError;

pub type ApiResult<T> = Result<T, ApiError>;

/// One invalid field of a request (422).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// No valid credentials for an endpoint that needs them.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// The password was right and a second factor is due: 401 `mfa_required`
    /// with the token of the second step and the methods it takes. The
    /// token is a credential, so it never reaches a log (`Debug` hides it).
    #[error("A second factor is required")]
    MfaRequired { token: secrecy::SecretString, methods: Vec<crate::mfa::Method> },
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    Validation { detail: String, errors: Vec<FieldError> },
    #[error("Request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: Duration },
    /// A backing store (or a feature, like auth when disabled) is unavailable.
    #[error("{detail}")]
    Unavailable { code: &'static str, detail: String, retry_after: Duration },
    /// A bug or an unexpected store answer: logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest { code, detail: detail.into() }
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::Unauthorized { code: "not_authenticated", detail: detail.into() }
    }
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden { code, detail: detail.into() }
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound { code: "not_found", detail: detail.into() }
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict { code, detail: detail.into() }
    }
    /// A 422 naming one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Self::Validation { detail: format!("{}: {}", error.field, error.message), errors: vec![error] }
    }
    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unavailable { code, detail: detail.into(), retry_after: Duration::from_secs(1) }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } | Self::MfaRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine name sent as `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::MfaRequired { .. } => "mfa_required",
            Self::Validation { .. } => "validation_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// The body of every error answer (`ErrorBody` in the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A human sentence.
    detail: String,
    /// A stable machine name (`username_taken`, `not_authenticated`, ...).
    code: &'a str,
    /// The invalid fields, on 422 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    errors: Option<&'a [FieldError]>,
    /// With `mfa_required`: the token of the second step (`POST /api/auth/login/mfa`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    mfa_token: Option<&'a str>,
    /// With `mfa_required`: the ways the second step can be passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    methods: Option<&'a [crate::mfa::Method]>,
}

/// `Retry-After` in whole seconds, at least 1 (the header has no fractions).
fn retry_after_header(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "internal error");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        if let Self::Unavailable { detail, .. } = &self {
            tracing::warn!(%detail, "answering 503");
        }
        let errors = match &self {
            Self::Validation { errors, .. } => Some(errors.as_slice()),
            _ => None,
        };
        let (mfa_token, methods) = match &self {
            Self::MfaRequired { token, methods } => (Some(token.expose_secret()), Some(methods.as_slice())),
            _ => (None, None),
        };
        let body = ErrorBody { detail, code: self.code(), errors, mfa_token, methods };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized { .. } | Self::MfaRequired { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"kohakuriver\""));
            }
            Self::TooManyRequests { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, retry_after_header(*retry_after));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable { store, .. } => Self::Unavailable {
                code: "store_unavailable",
                detail: format!("{store} is unreachable; try again shortly"),
                retry_after: Duration::from_secs(1),
            },
            StoreError::Internal(err) => Self::Internal(err),
            StoreError::ActorRevoked => {
                Self::forbidden("actor_revoked", "Your own permissions changed; the change was not made")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(err: ApiError) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, headers, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, _, body) = render(ApiError::Internal(anyhow::anyhow!("table kohakuriver-users missing"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, serde_json::json!({"detail": "Internal server error", "code": "internal_error"}));
    }

    #[tokio::test]
    async fn store_outages_are_503_with_retry_after() {
        let err: ApiError = StoreError::unavailable(crate::db::Store::Redis, anyhow::anyhow!("refused")).into();
        let (status, headers, body) = render(err).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers.get(header::RETRY_AFTER).expect("retry-after"), "1");
        assert_eq!(body["detail"], "Redis is unreachable; try again shortly");
        assert_eq!(body["code"], "store_unavailable");
    }

    #[tokio::test]
    async fn validation_errors_list_fields_and_keep_detail_a_string() {
        let (status, _, body) = render(ApiError::invalid("role", "unknown role 'root'")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["detail"], "role: unknown role 'root'");
        assert_eq!(body["errors"], serde_json::json!([{"field": "role", "message": "unknown role 'root'"}]));
    }

    #[tokio::test]
    async fn mfa_required_carries_the_token_and_methods_but_debug_hides_the_token() {
        let err = ApiError::MfaRequired {
            token: "7.secret-token-value".to_owned().into(),
            methods: vec![crate::mfa::Method::Totp, crate::mfa::Method::Recovery],
        };
        assert!(!format!("{err:?}").contains("secret-token-value"));
        let (status, headers, body) = render(err).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(body["code"], "mfa_required");
        assert_eq!(body["mfa_token"], "7.secret-token-value");
        assert_eq!(body["methods"], serde_json::json!(["totp", "recovery"]));
        assert!(body["detail"].is_string());
    }

    #[tokio::test]
    async fn unauthorized_carries_www_authenticate() {
        let (status, headers, _) = render(ApiError::unauthorized("Not authenticated")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_header(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after_header(Duration::ZERO), "1");
        assert_eq!(retry_after_header(Duration::from_secs(900)), "900");
    }
}
