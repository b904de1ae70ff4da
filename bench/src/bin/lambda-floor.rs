//! The floor for the Lambda cold start (`lambda-bench`): the least a
//! `lambda_http` axum function can be. It answers `GET /api/auth/me` (the
//! request `lambda-bench` sends `krv-auth`) with a small JSON. With
//! `REDIS_URL` set it first makes one Redis `GET`, through a
//! `ConnectionManager` opened on the first request as the service's is, so its
//! first answer pays the same connection set-up as `krv-auth`'s; without it the
//! function touches nothing (the floor for `GET /api/auth/status`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let redis = match std::env::var("REDIS_URL") {
        Ok(url) => Some(ConnectionManager::new_lazy_with_config(
            redis::Client::open(url.as_str())?,
            redis::aio::ConnectionManagerConfig::new(),
        )?),
        Err(_) => None,
    };
    let app = Router::new().route("/api/auth/me", get(me)).route("/api/auth/status", get(me)).with_state(redis);
    lambda_http::run(app).await
}

async fn me(State(redis): State<Option<ConnectionManager>>) -> Result<Json<Value>, StatusCode> {
    let value: Option<String> = match redis {
        Some(mut conn) => conn.get("bench:floor").await.map_err(|_| StatusCode::BAD_GATEWAY)?,
        None => None,
    };
    Ok(Json(json!({"id": 1, "username": "floor", "value": value})))
}
