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
use shared::{AppState, Routes};
use tower_http::services::{ServeDir, ServeFile};

/// Every endpoint group, each with its routes. Adding a group is one line
/// here: the local router, the OpenAPI document ([`openapi::document`]) and the
/// SAM template (`krv-infra`) all read this list.
pub fn routes() -> Routes {
    [
        krv_health::routes(),
        krv_auth::routes(),
        krv_tokens::routes(),
        krv_users::routes(),
        krv_invitations::routes(),
        krv_groups::routes(),
        krv_tasks::routes(),
        krv_vps::routes(),
        krv_admin::routes(),
    ]
    .into_iter()
    .fold(Routes::default(), Routes::merge)
}

/// The API plus the web panel's built files (`WEB_DIR`): paths outside `/api`
/// are files, and unknown ones get `index.html` (the panel routes in the
/// browser); unknown `/api` paths stay JSON 404s. The files pass the same
/// layers as the API (request id, log line, panic guard).
pub fn with_web(routes: Routes, state: AppState, dist: &Path) -> Router {
    let spa = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
    routes.into_router_with_pages(state, Router::new().fallback_service(spa))
}
