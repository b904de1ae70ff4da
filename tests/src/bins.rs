//! Locating the workspace's binaries from a test (cargo only exposes
//! `CARGO_BIN_EXE_*` for a package's own binaries).

use std::path::PathBuf;

/// `target/<profile>/<name>`: next to the running test executable's `deps/`
/// folder, or next to the running program itself (`lambda-bench`). Tests do
/// not build it: `make test` (scripts/test) builds every binary first.
pub fn binary(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `make test` (or `cargo build --workspace --bins` first)",
        path.display()
    );
    path
}

/// Runs the built binary `name` with `args` and only the variables `env`
/// (not even `PATH`); returns its exit code and stderr.
pub fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(binary(name));
    command.env_clear().args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap_or_else(|e| panic!("{name} runs: {e}"));
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `target/<profile>` of the running test executable (or program).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("target/<profile>/…");
    let dir = if dir.file_name().is_some_and(|n| n == "deps") { dir.parent().expect("target/<profile>") } else { dir };
    dir.to_path_buf()
}
