//! Locating the workspace's binaries from a test (cargo only exposes
//! `CARGO_BIN_EXE_*` for a package's own binaries).

use std::path::PathBuf;

/// `target/<profile>/<name>`: next to the running test executable's `deps/`
/// folder, or next to the running program itself (`lambda-bench`).
pub fn binary(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `make test` (or `cargo build --workspace --bins` first)",
        path.display()
    );
    path
}

/// [`binary`], rebuilt first if its sources changed: `cargo build -p package
/// --bin name` in the running test's profile. Cargo builds only the package's
/// own binaries for its own tests, so without this a test run on its own (not
/// through `make test`, which builds every binary first) could exercise a
/// stale build of the service. When the binary is current this costs cargo's
/// freshness check only.
pub fn fresh_binary(package: &str, name: &str) -> PathBuf {
    let profile_dir = profile_dir();
    let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args(["build", "--quiet", "-p", package, "--bin", name]);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    // Build into the target folder this test runs from, whatever the environment says.
    if let Some(target) = profile_dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    binary(name)
}

/// `target/<profile>` of the running test executable (or program).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("target/<profile>/…");
    let dir = if dir.file_name().is_some_and(|n| n == "deps") { dir.parent().expect("target/<profile>") } else { dir };
    dir.to_path_buf()
}
