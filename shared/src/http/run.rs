//! The two ways to run a router: as a Lambda function, or as a local HTTP server.

use std::net::SocketAddr;

use crate::config::Config;
use crate::db::dynamo::Endpoint;
use crate::http::{AppState, Routes};
use crate::telemetry;
use axum::Router;

/// The whole `main` of a Lambda binary: read the configuration (or stop with one
/// line), build the clients once, then serve invocations with the group's router.
pub async fn run_lambda(routes: Routes) -> Result<(), lambda_http::Error> {
    let state = boot().await?;
    lambda_http::run(routes.into_router(state)).await
}

/// A Lambda's start: the configuration (or one line and exit), logging, the
/// clients, built once per instance.
async fn boot() -> Result<AppState, lambda_http::Error> {
    let config = Config::load_or_exit();
    telemetry::init(config.log_format);
    Ok(AppState::connect(config, &Endpoint::default()).await?)
}

/// The whole `main` of a scheduled Lambda (an EventBridge rule, no HTTP): the
/// same configuration and clients as [`run_lambda`], then `job` once per
/// invocation, whatever the event says. A store error fails the invocation so
/// the schedule's failure metrics show it; the next tick tries again.
pub async fn run_scheduled<F, Fut>(job: F) -> Result<(), lambda_http::Error>
where
    F: Fn(AppState) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, crate::db::StoreError>>,
{
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    let state = boot().await?;
    let job = &job;
    lambda_runtime::run(lambda_runtime::service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move { job(state).await.map_err(lambda_http::Error::from) }
    }))
    .await
}

/// Serves `router` on `listener` until `shutdown` resolves; requests in flight
/// are finished first. Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve_local(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and container runtimes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
