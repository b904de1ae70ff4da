//! The built `krv-server` binary run as a child process on a loopback port,
//! for tests that watch or signal the real process: its descriptors and
//! memory, TLS, SIGTERM, a restart on the same data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::bins::binary;
use crate::stack::{RedisServer, free_port};

/// The signing key of every server process, so that sessions survive a restart.
pub const SIGNING_KEY: &str = "server-process-signing-key-0123456789abcdef";

/// A running `krv-server`, killed on drop; its stderr goes to a file that
/// failure messages show.
pub struct ServerProcess {
    child: Child,
    port: u16,
    log: PathBuf,
    scheme: &'static str,
}

impl ServerProcess {
    /// Starts `krv-server` on a free port with the test settings
    /// ([`crate::app::base_env`], [`SIGNING_KEY`]), `redis`, an in-memory
    /// embedded store, no web panel, plus `extra` (which may replace any of
    /// them). Its log goes to a file in `dir`. With `TLS_CERT_FILE` in `extra`
    /// it serves HTTPS.
    pub fn spawn(dir: &Path, redis: &RedisServer, extra: &[(&str, &str)]) -> Self {
        let port = free_port().expect("free port");
        let log = dir.join(format!("krv-server-{port}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(binary("krv-server"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .envs(crate::app::base_env())
            .env("SESSION_SIGNING_KEY", SIGNING_KEY)
            .env("REDIS_URL", redis.url())
            .env("CREATE_TABLES", "true")
            .env("DYNAMODB_DATA_PATH", ":memory:")
            .env("WEB_DIR", dir.join("no-web-panel"))
            .stdout(Stdio::null())
            .stderr(stderr);
        command.envs(extra.iter().copied());
        let child = command.spawn().expect("krv-server starts");
        let scheme = if extra.iter().any(|(k, _)| *k == "TLS_CERT_FILE") { "https" } else { "http" };
        Self { child, port, log, scheme }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT` (`https://` when it serves TLS).
    pub fn base_url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The URL of `path` with another scheme than the server's own.
    pub fn url_with_scheme(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Polls `/api/health/ready` with a plain client until it answers 200.
    pub async fn wait_ready(&mut self, limit: Duration) {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
        self.wait_ready_with(&client, limit).await;
    }

    /// Polls `/api/health/ready` with `client` (one that trusts the server's
    /// certificate, for HTTPS) until it answers 200; fails if the process exits
    /// first or it takes longer than `limit`.
    pub async fn wait_ready_with(&mut self, client: &reqwest::Client, limit: Duration) {
        let url = self.url("/api/health/ready");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return;
            }
            if let Some(status) = self.exited() {
                panic!("krv-server exited with {status} before it was ready:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "krv-server was not ready within {limit:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM, as systemd does on `systemctl stop`.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, for at most `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(Instant::now() < deadline, "krv-server did not exit within {limit:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`ServerProcess::terminate`], then asserts a clean exit within 30 s.
    pub async fn stop(&mut self) {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(30)).await;
        assert_eq!(status.code(), Some(0), "exit after SIGTERM:\n{}", self.log());
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
