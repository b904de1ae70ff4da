use axum::Json;
use axum::extract::State;
use serde::Serialize;
use shared::AppState;

/// `GET /api/auth/status`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuthStatus {
    auth_enabled: bool,
    /// Null while authentication is disabled.
    session_expire_hours: Option<u32>,
    version: &'static str,
}

/// `GET /api/auth/status` (public): what a client needs before it logs in.
#[utoipa::path(get, path = "/api/auth/status", tag = "auth", security(()),
    responses((status = 200, description = "Whether authentication is on, and the version", body = AuthStatus)))]
pub async fn status(State(state): State<AppState>) -> Json<AuthStatus> {
    let config = &state.config;
    Json(AuthStatus {
        auth_enabled: config.auth_enabled,
        session_expire_hours: config.auth_enabled.then_some(config.session_expire_hours),
        version: env!("CARGO_PKG_VERSION"),
    })
}
