//! The `health` endpoint group: liveness, readiness and the API contract.
//!
//! Every endpoint group has this shape: a library exposing `routes()`, which
//! declares each route once as `.route(routes!(handler), scope)`, and a thin Lambda
//! binary (`src/main.rs`) that builds the state once and runs them.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Serialize;
use shared::db::StoreError;
use shared::db::tables;
use shared::http::routes;
use shared::tokens::Needs;
use shared::{ApiError, AppState, Routes};

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("health")
        .route(routes!(live), Needs::NOTHING)
        .route(routes!(ready), Needs::NOTHING)
        .route(routes!(contract), Needs::NOTHING)
}

/// The committed document (`docs/openapi.json`, generated from every group's
/// annotations). Embedded rather than generated here, so this crate needs no
/// other group and the Lambda serves the very file the repository holds.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

/// `{"status": "ok", "version"}`.
#[derive(Serialize, utoipa::ToSchema)]
struct Live {
    status: &'static str,
    version: &'static str,
}

/// `{"status": "ready", "dynamodb": "ok", "redis": "ok"}`.
#[derive(Serialize, utoipa::ToSchema)]
struct Ready {
    status: &'static str,
    dynamodb: &'static str,
    redis: &'static str,
}

/// Liveness: the process answers. Touches no store, so it stays cheap enough
/// for frequent probes and marks the in-process ceiling in the benchmarks.
#[utoipa::path(get, path = "/api/health", tag = "health", security(()),
    responses((status = 200, description = "The process answers", body = Live)))]
async fn live() -> Json<Live> {
    Json(Live { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// Readiness: both stores answer. 503 names which one does not.
#[utoipa::path(get, path = "/api/health/ready", tag = "health", security(()),
    responses((status = 200, description = "DynamoDB and Redis answer", body = Ready)))]
async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
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
        return Ok(Json(Ready { status: "ready", dynamodb: "ok", redis: "ok" }));
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
