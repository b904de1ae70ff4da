//! The `health` endpoint group: liveness, readiness and the API contract.
//!
//! Every endpoint group has this shape: a library exposing `routes()` and a thin
//! Lambda binary (`src/main.rs`) that builds the state once and runs them.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use shared::db::StoreError;
use shared::db::tables;
use shared::{ApiError, AppState, Routes};
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("health").get("/api/health", live).get("/api/health/ready", ready).get("/api/openapi.json", contract)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(live, ready, contract))]
    struct Doc;
    Doc::openapi()
}

/// The committed document (`docs/openapi.json`, generated from every group's
/// annotations). Embedded rather than generated here, so this crate needs no
/// other group and the Lambda serves the very file the repository holds.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// `{"status": "ok", "version"}`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds")]
struct Live {
    status: String,
    version: String,
}

/// `{"status": "ready", "dynamodb": "ok", "redis": "ok"}`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds")]
struct Ready {
    status: String,
    dynamodb: String,
    redis: String,
}

/// Liveness: the process answers. Touches no store, so it stays cheap enough
/// for frequent probes and marks the in-process ceiling in the benchmarks.
#[utoipa::path(get, path = "/api/health", tag = "health", security(()),
    responses((status = 200, description = "The process answers", body = Live)))]
async fn live() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// Readiness: both stores answer. 503 names which one does not.
#[utoipa::path(get, path = "/api/health/ready", tag = "health", security(()),
    responses((status = 200, description = "DynamoDB and Redis answer", body = Ready)))]
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

/// The OpenAPI 3.1 document of the whole API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
async fn contract() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
