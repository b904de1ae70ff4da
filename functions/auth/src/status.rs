use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use shared::AppState;

/// `GET /api/auth/status` (public): what a client needs before it logs in.
#[utoipa::path(get, path = "/api/auth/status", tag = "auth", security(()),
    responses((status = 200, description = "Whether authentication is on, and the version", body = crate::schema::AuthStatus)))]
pub async fn status(State(state): State<AppState>) -> Json<Value> {
    let config = &state.config;
    Json(json!({
        "auth_enabled": config.auth_enabled,
        "session_expire_hours": config.auth_enabled.then_some(config.session_expire_hours),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}
