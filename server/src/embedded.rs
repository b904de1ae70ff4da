//! Dynoxide, a DynamoDB-compatible server on SQLite, embedded in this process and
//! served on a loopback port so the service reaches it through the same
//! `aws-sdk-dynamodb` code as real DynamoDB.

use std::net::SocketAddr;

use dynoxide::Database;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Opens the database: a file (created with its folder if missing) or, for
/// `:memory:`, nothing durable.
pub fn open(path: &str) -> anyhow::Result<Database> {
    if path == ":memory:" {
        return Database::memory().map_err(|e| anyhow::anyhow!("in-memory DynamoDB store: {e}"));
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    Database::new(path).map_err(|e| anyhow::anyhow!("opening DynamoDB store {path}: {e}"))
}

/// A running embedded store. It can be stopped and started again on the same
/// address with the same data (the store-outage tests do this).
pub struct EmbeddedDynamo {
    db: Database,
    addr: SocketAddr,
    running: Option<Running>,
}

/// The stop signal and the task of a serving store.
type Running = (oneshot::Sender<()>, JoinHandle<Result<(), String>>);

impl EmbeddedDynamo {
    /// Serves `db` on `addr` (port 0 picks a free port).
    pub async fn start(db: Database, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut store = Self { db, addr, running: None };
        store.serve(listener);
        Ok(store)
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(dynoxide::server::serve_with_shutdown(listener, self.db.clone(), async {
            let _ = stopped.await;
        }));
        self.running = Some((stop, task));
    }

    /// The endpoint URL for the SDK.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving (requests in flight finish); the data stays.
    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            match task.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "embedded DynamoDB stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "embedded DynamoDB task failed"),
                Ok(Ok(())) => {}
            }
        }
    }

    /// Serves again on the same address.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        if let Some((stop, _)) = self.running.take() {
            let _ = stop.send(());
        }
    }
}
