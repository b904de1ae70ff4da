//! The floors `bench/run` measures the service against, on the same machine,
//! Redis server and wrk settings in the same run, so the service's figures
//! are read as ratios rather than as absolute numbers that depend on the
//! machine:
//!
//! - `floor bare PORT`: axum answering a tiny JSON on `GET /`, no I/O: what
//!   HTTP handling alone costs (the ceiling for `GET /api/health`).
//! - `floor redis PORT REDIS_URL`: the same plus one Redis `GET` per request
//!   through a `redis::aio::ConnectionManager` (the crate and features the
//!   service uses), answering the value: the least an authenticated request
//!   can cost, since the service's warm sessions and tokens cost one round trip.
//!
//! The runtime and the serving loop are krv-server's (`#[tokio::main]` with a
//! worker per core; `axum::serve` with peer addresses, as
//! `shared::http::serve_local` does), so the only difference left is the work
//! per request.

use std::net::SocketAddr;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde_json::{Value, json};

/// The key the Redis floor reads (written once at start).
const KEY: &str = "bench:floor";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, port) = match args.as_slice() {
        [mode, port, ..] => (mode.as_str(), port.parse::<u16>()?),
        _ => anyhow::bail!("usage: floor bare PORT | floor redis PORT REDIS_URL"),
    };
    let app = match mode {
        "bare" => Router::new().route("/", get(bare)),
        "redis" => {
            let url = args.get(2).ok_or_else(|| anyhow::anyhow!("floor redis needs REDIS_URL"))?;
            let mut redis = ConnectionManager::new(redis::Client::open(url.as_str())?).await?;
            let () = redis.set(KEY, "floor").await?;
            Router::new().route("/", get(one_get)).with_state(redis)
        }
        other => anyhow::bail!("unknown floor {other:?}: bare or redis"),
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}

/// The same body as `GET /api/health`.
async fn bare() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn one_get(State(mut redis): State<ConnectionManager>) -> Result<Json<Value>, axum::http::StatusCode> {
    let value: Option<String> = redis.get(KEY).await.map_err(|_| axum::http::StatusCode::SERVICE_UNAVAILABLE)?;
    Ok(Json(json!({"value": value})))
}
