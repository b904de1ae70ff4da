//! The stores of one test: private, so tests run in parallel without sharing
//! data, and stoppable, so outages can be tested.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use krv_server::embedded::{self, EmbeddedDynamo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `redis-server` child process on a loopback port, killed on drop.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    tls: Option<Tls>,
}

/// The certificate and key a TLS-only server presents (the certificate is its
/// own CA), and the folder it may write to.
#[derive(Clone)]
struct Tls {
    cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a fresh, empty server on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on_free_port(None).await
    }

    /// Starts a fresh server that speaks only TLS (`rediss://`), presenting
    /// `cert` (self-signed: its own CA) and `key`; it may write into `dir`.
    pub async fn start_tls(dir: &Path, cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let tls = Tls { cert: cert.to_path_buf(), key: key.to_path_buf(), dir: dir.to_path_buf() };
        Self::start_on_free_port(Some(tls)).await
    }

    /// A port that was free a moment ago may be taken by the time the server
    /// binds it: try a few.
    async fn start_on_free_port(tls: Option<Tls>) -> anyhow::Result<Self> {
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut server = Self { port, child: None, tls: tls.clone() };
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(tls) => {
                let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
                command
                    .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                    .args(["--tls-cert-file", &path(&tls.cert), "--tls-key-file", &path(&tls.key)])
                    .args(["--tls-ca-cert-file", &path(&tls.cert), "--dir", &path(&tls.dir)])
            }
        };
        let child = command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot run redis-server (is it installed? `localstack/up` installs it): {e}")
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.answers().await {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                anyhow::bail!("redis-server exited with {status} (port {} taken?)", self.port);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.stop();
        anyhow::bail!("redis-server on port {} did not answer PING", self.port)
    }

    /// Whether the server answers: PING, or for TLS a TCP connection.
    async fn answers(&self) -> bool {
        match self.tls {
            None => ping(self.port).await,
            Some(_) => tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok(),
        }
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (its data is lost, as in a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts an empty server again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn().await
    }

    /// Suspends the server (SIGSTOP): connections stay open and nothing
    /// answers, as when Redis hangs or the network drops packets. A killed
    /// server refuses connections at once; a frozen one makes every client wait.
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.signal("-STOP")
    }

    /// Resumes a frozen server (SIGCONT) with its data and connections.
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let child = self.child.as_ref().ok_or_else(|| anyhow::anyhow!("redis-server is not running"))?;
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill {signal} failed");
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a Redis server answers PING on `port`.
async fn ping(port: u16) -> bool {
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(("127.0.0.1", port))).await
    else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_millis(200), stream.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"+PONG\r\n"
    )
}

/// A port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Both stores of one test.
pub struct TestStack {
    pub dynamo: EmbeddedDynamo,
    pub redis: RedisServer,
    /// While DynamoDB is unresponsive: the listener that takes its place.
    black_hole: Option<tokio::task::JoinHandle<()>>,
}

impl TestStack {
    pub async fn start() -> anyhow::Result<Self> {
        let db = embedded::open(":memory:")?;
        let dynamo = EmbeddedDynamo::start(db, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let redis = RedisServer::start().await?;
        Ok(Self { dynamo, redis, black_hole: None })
    }

    /// Makes DynamoDB unresponsive: the store stops serving and a listener on
    /// its address accepts connections and never answers, so clients wait for
    /// their own timeouts (as with a hung endpoint or a dropped route) instead
    /// of being refused at once.
    pub async fn hang_dynamo(&mut self) -> anyhow::Result<()> {
        self.dynamo.stop().await;
        let listener = tokio::net::TcpListener::bind(self.dynamo.addr()).await?;
        self.black_hole = Some(tokio::spawn(async move {
            // Held, never read or answered; dropped when the task is aborted.
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        }));
        Ok(())
    }

    /// Ends [`TestStack::hang_dynamo`]: the waiting connections are closed and
    /// the store serves again on its address, with its data.
    pub async fn unhang_dynamo(&mut self) -> anyhow::Result<()> {
        if let Some(task) = self.black_hole.take() {
            task.abort();
            let _ = task.await;
        }
        self.dynamo.restart().await?;
        Ok(())
    }
}
