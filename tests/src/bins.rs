//! Locating the workspace's binaries from a test (cargo only exposes
//! `CARGO_BIN_EXE_*` for a package's own binaries).

use std::path::PathBuf;

/// `target/<profile>/<name>`, next to the running test executable's `deps/`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `make test` (or `cargo build --workspace --bins` first)",
        path.display()
    );
    path
}
