//! The `health` endpoint group: liveness and readiness.
//!
//! Every endpoint group has this shape: a library exposing `routes()` and a thin
//! Lambda binary (`src/main.rs`) that builds the state once and runs them.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use shared::store::{StoreError, tables};
use shared::{ApiError, AppState, Routes};

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("health").get("/api/health", live).get("/api/health/ready", ready)
}

/// Liveness: the process answers. Touches no store, so it stays cheap enough
/// for frequent probes and marks the in-process ceiling in the benchmarks.
async fn live() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Readiness: both stores answer. 503 names which one does not.
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (dynamo, redis) = tokio::join!(tables::check(&state.stores), state.stores.redis.ping());
    let down: Vec<&str> = [("DynamoDB", &dynamo), ("Redis", &redis)]
        .into_iter()
        .filter_map(|(name, result)| result.as_ref().err().map(|err| (name, err)))
        .map(|(name, err)| {
            if let StoreError::Internal(cause) = err {
                tracing::error!(store = name, error = %format!("{cause:#}"), "readiness check failed");
            }
            name
        })
        .collect();
    if down.is_empty() {
        return Ok(Json(json!({"status": "ready", "dynamodb": "ok", "redis": "ok"})));
    }
    let verb = if down.len() == 1 { "is" } else { "are" };
    Err(ApiError::unavailable("not_ready", format!("Not ready: {} {verb} unreachable", down.join(" and "))))
}
