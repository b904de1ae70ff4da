//! The built `krv-server` binary run as a child process on a loopback port,
//! for tests that watch the real process (its descriptors, its memory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stack::free_port;

/// A running `krv-server`, killed on drop; its stderr goes to a file that
/// failure messages show.
pub struct ServerProcess {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `binary` on a free port with exactly `env` (plus `PATH`, `PORT`
    /// and `BIND_ADDRESS`); its log goes to a file in `dir`.
    pub fn spawn(binary: &Path, dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = dir.join(format!("krv-server-{port}.log"));
        let stderr = std::fs::File::create(&log)?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("BIND_ADDRESS", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn()?;
        Ok(Self { child, port, log })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Polls `/api/health/ready` until it answers 200; fails if the process
    /// exits first or it takes longer than `limit`.
    pub async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let url = format!("{}/api/health/ready", self.base_url());
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                anyhow::bail!("krv-server exited with {status} before it was ready:\n{}", self.log());
            }
            anyhow::ensure!(Instant::now() < deadline, "krv-server was not ready within {limit:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
