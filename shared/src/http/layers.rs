//! The tower layers every request passes: request id and its log span, panic
//! guard, body limit, and JSON answers for unknown routes and methods.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::error::ApiError;
use crate::http::AppState;
use crate::http::extract::BODY_LIMIT;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Whether `path` is under the API's prefix (`/api` itself or `/api/…`, not
/// `/apiary`).
pub fn is_api_path(path: &str) -> bool {
    path.strip_prefix("/api").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Adds state, layers and fallbacks to a router of routes. Paths no route
/// serves get a JSON 404, or, outside the API and when `pages` is given (the
/// local server's web panel), whatever `pages` answers: inside the same
/// layers, so files get a request id and a log line too.
pub fn finish(router: Router<AppState>, state: AppState, pages: Option<Router>) -> Router {
    let fallback = tower::service_fn(move |request: Request| {
        let pages = pages.clone().filter(|_| !is_api_path(request.uri().path()));
        async move {
            Ok::<_, std::convert::Infallible>(match pages {
                Some(pages) => pages.oneshot(request).await.unwrap_or_else(|never| match never {}),
                None => ApiError::not_found("No such endpoint").into_response(),
            })
        }
    });
    router
        .fallback_service(fallback)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::csrf::protect))
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            // The panic message may hold request data; the panic hook already logged it.
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(middleware::from_fn(request_id_and_log))
}

/// A client-supplied id is kept when it is short and plain (so it cannot forge
/// log lines); otherwise a new one is made.
fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

async fn request_id_and_log(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let header = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID_HEADER, header.clone());
    req.extensions_mut().insert(RequestId(id.clone()));

    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), latency_ms, "answered");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms, "answered");
        }
    });
    response.headers_mut().insert(REQUEST_ID_HEADER, header);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        // Counted separately: a 500 is always a bug to fix.
        tracing::error!(parent: &span, "internal server error");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn request_ids_that_could_forge_log_lines_are_replaced() {
        assert!(acceptable("3f1c2a9e-8f0b-4b1e-9d4e-7e3c1b2a0f11"));
        assert!(acceptable("Root=1-5759e988-bd862e3fe1be46a994272793"));
        assert!(!acceptable(""));
        assert!(!acceptable("abc\ndef"));
        assert!(!acceptable("has space"));
        assert!(!acceptable(&"x".repeat(129)));
    }
}
