//! The local server: every endpoint group's routes in one axum process.
//!
//! Lambda binaries never link this crate, so the embedded store stays out of them.

pub mod backup;
pub mod embedded;
pub mod openapi;
pub mod settings;
pub mod tls;

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use shared::{ApiError, Routes};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Every group's routes. Adding a group is one line here.
pub fn routes() -> Routes {
    Routes::default()
        .merge(krv_health::routes())
        .merge(krv_auth::routes())
        .merge(krv_tokens::routes())
        .merge(krv_users::routes())
        .merge(krv_invitations::routes())
        .merge(krv_groups::routes())
        .merge(krv_tasks::routes())
        .merge(krv_vps::routes())
        .merge(krv_admin::routes())
}

/// The API plus the web panel's built files (`WEB_DIR`): paths outside `/api`
/// are files, and unknown ones get `index.html` (the panel routes in the
/// browser); unknown `/api` paths stay JSON 404s.
pub fn with_web(api: Router, dist: &Path) -> Router {
    let spa = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    let web = tower::service_fn(move |request: Request| {
        let spa = spa.clone();
        async move {
            if request.uri().path().starts_with("/api") {
                return Ok::<_, std::convert::Infallible>(ApiError::not_found("No such endpoint").into_response());
            }
            Ok(spa.oneshot(request).await.map(IntoResponse::into_response).unwrap_or_else(|never| match never {}))
        }
    });
    api.fallback_service(web)
}
