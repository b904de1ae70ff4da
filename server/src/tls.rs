//! HTTPS for the self-hosted server: rustls with the PEM files that
//! `TLS_CERT_FILE` and `TLS_KEY_FILE` name, on the same address and port that
//! plain HTTP would use.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::settings::TlsFiles;

/// How long requests in flight may take to finish after SIGTERM before their
/// connections are closed; below the unit example's `TimeoutStopSec`.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Reads and checks both PEM files; every problem is one line naming its variable.
pub async fn load(files: &TlsFiles) -> anyhow::Result<RustlsConfig> {
    let cert = shared::env::read_pem("TLS_CERT_FILE", &files.cert, "CERTIFICATE-----")?;
    let key = shared::env::read_pem("TLS_KEY_FILE", &files.key, "PRIVATE KEY-----")?;
    RustlsConfig::from_pem(cert, key).await.map_err(|e| {
        anyhow::anyhow!(
            "TLS_CERT_FILE {} and TLS_KEY_FILE {} are not a usable certificate and key: {e}",
            files.cert.display(),
            files.key.display()
        )
    })
}

/// Serves `router` over HTTPS on `listener` until `shutdown` resolves, then
/// stops accepting and lets requests in flight finish (for at most
/// [`DRAIN_TIMEOUT`]). Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    config: RustlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        on_signal.graceful_shutdown(Some(DRAIN_TIMEOUT));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<SocketAddr>())
        .await
}
