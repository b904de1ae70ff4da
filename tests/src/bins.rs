//! Locating the workspace's binaries from a test (cargo only exposes
//! `CARGO_BIN_EXE_*` for a package's own binaries).

use std::path::PathBuf;

/// `target/<profile>/<name>`: next to the running test executable's `deps/`
/// folder, or next to the running program itself (`lambda-bench`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    let dir = exe.parent().expect("target/<profile>/…");
    let profile_dir =
        if dir.file_name().is_some_and(|n| n == "deps") { dir.parent().expect("target/<profile>") } else { dir };
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with `make test` (or `cargo build --workspace --bins` first)",
        path.display()
    );
    path
}
