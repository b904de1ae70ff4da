//! The `kohakuriver` command-line client against a real service: the built
//! binary, run as a user would, with its own config directory per test.

mod accounts;
mod behaviour;
mod managers;
mod mfa;
mod resources;
mod sso;
mod tokens_scoped;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use krv_tests::{PASSWORD, TestApp};
use serde_json::Value;

/// One user's shell: a config directory and a server.
struct Cli {
    url: String,
    home: tempfile::TempDir,
}

/// A finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "the command failed\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "unexpected exit code\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        self.ok();
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl Cli {
    fn new(url: &str) -> Self {
        Self { url: url.to_owned(), home: tempfile::tempdir().expect("temp dir") }
    }

    fn config_dir(&self) -> PathBuf {
        self.home.path().join("config")
    }

    fn credentials(&self) -> PathBuf {
        self.config_dir().join("kohakuriver").join("credentials.json")
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[]).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.run(&all).await.json()
    }

    /// Runs the binary with a clean environment: this shell's home and config
    /// directory, the server in `KOHAKURIVER_HOST`, then `env`.
    async fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(krv_tests::bins::binary("kohakuriver"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("KOHAKURIVER_HOST", &self.url)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.unwrap_or("").to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("the binary starts");
            let mut pipe = child.stdin.take().expect("stdin");
            // The binary may exit without reading; a broken pipe is fine then.
            let _ = pipe.write_all(input.as_bytes());
            drop(pipe);
            let output = child.wait_with_output().expect("the binary finishes");
            Run {
                code: output.status.code().expect("exited, not killed"),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        })
        .await
        .expect("the blocking task completes")
    }

    /// `auth login` for `name` with the test password on stdin.
    async fn login(&self, name: &str) -> Run {
        let input = format!("{PASSWORD}\n");
        self.run_with(&["auth", "login", "--username", name, "--password-stdin"], Some(&input), &[]).await
    }

    /// The token the credentials file holds for this shell's server.
    fn stored_token(&self) -> String {
        let file: Value = serde_json::from_slice(&std::fs::read(self.credentials()).expect("credentials file"))
            .expect("credentials JSON");
        file["servers"][&self.url]["token"].as_str().expect("a stored token").to_owned()
    }
}

/// A served app with its first admin, and a shell logged in as that admin.
async fn admin_shell() -> (TestApp, krv_tests::ServerGuard, String, Cli) {
    let app = TestApp::start().await;
    let (url, guard) = app.serve().await;
    let admin = app.with_admin().await.token;
    let cli = Cli::new(&url);
    cli.login("admin").await.ok();
    (app, guard, admin, cli)
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array().expect("a JSON array").iter().filter_map(|i| i[key].as_str()).map(str::to_owned).collect()
}
