//! Backup and restore of the embedded store's SQLite file
//! (`krv-server backup FILE`, `krv-server restore FILE`).
//!
//! A backup is SQLite's `VACUUM INTO`: a consistent copy taken inside one read
//! transaction, so it is safe while the service runs (the store is in WAL mode,
//! and readers do not block the server's writers). A restore replaces the
//! store's contents underneath whoever has it open, so it needs the service
//! stopped: the server holds [`StoreLock`] while it runs, and a restore refuses
//! to start while it is held.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::embedded;

/// An exclusive lock on `<data path>.lock`, held by the process serving the
/// store for as long as it runs; the operating system releases it when the
/// process ends, however it ends.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock of the store at `data_path`, or says who holds it.
    pub fn acquire(data_path: &str) -> anyhow::Result<Self> {
        let path = lock_path(data_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("opening the store lock {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(anyhow::anyhow!(
                "the store {data_path} is in use by a running krv-server (it holds {}); stop the service first",
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(anyhow::anyhow!("locking the store {}: {e}", path.display())),
        }
    }
}

/// `<data path>.lock`, next to the store.
fn lock_path(data_path: &str) -> PathBuf {
    PathBuf::from(format!("{data_path}.lock"))
}

/// Writes a consistent copy of the store at `data_path` to `target`, replacing
/// `target` only once the copy is complete. Safe while the service runs.
pub fn backup(data_path: &str, target: &Path) -> anyhow::Result<()> {
    require_file_store(data_path)?;
    if !Path::new(data_path).is_file() {
        anyhow::bail!("no store at {data_path} (DYNAMODB_DATA_PATH): nothing to back up");
    }
    let db = embedded::open(data_path)?;
    // `VACUUM INTO` refuses an existing file, and a copy cut short must not
    // replace a good backup: write beside the target, then rename over it.
    let partial = sibling(target, &format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&partial);
    let copied = db
        .vacuum_into(&path_str(&partial)?)
        .map_err(|e| anyhow::anyhow!("backing up {data_path} to {}: {e}", target.display()));
    if let Err(e) = copied.and_then(|()| {
        std::fs::rename(&partial, target).map_err(|e| anyhow::anyhow!("moving the backup to {}: {e}", target.display()))
    }) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    Ok(())
}

/// Replaces the contents of the store at `data_path` with the backup `source`.
/// Refuses while a server holds the store; a refused or failed restore leaves
/// the store as it was (a missing store stays missing).
///
/// The backup is first copied into a scratch database beside the store and
/// checked there whole (SQLite's `integrity_check`): Dynoxide's own restore
/// copies pages as they are and reads only its metadata, so a backup with a
/// damaged data page would otherwise replace a sound store. The store is then
/// restored from that checked copy, not from `source` again.
pub fn restore(data_path: &str, source: &Path) -> anyhow::Result<()> {
    require_file_store(data_path)?;
    if !source.is_file() {
        anyhow::bail!("no backup at {}", source.display());
    }
    let _lock = StoreLock::acquire(data_path)?;
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("restoring {data_path} from {}: {e}", source.display());
    let scratch = sibling(Path::new(data_path), &format!(".restore-{}", std::process::id()));
    remove_sqlite_files(&scratch);
    let restored = checked_copy(&scratch, source)
        .map_err(|e| failed(&e))
        .and_then(|()| embedded::open(data_path))
        .and_then(|db| db.restore_from(&path_str(&scratch)?).map_err(|e| failed(&e)));
    remove_sqlite_files(&scratch);
    restored
}

/// Copies the backup `source` into a new database at `scratch` (brought up to
/// date as a restore does) and checks every page of it; the error says what is
/// wrong, on one line.
fn checked_copy(scratch: &Path, source: &Path) -> anyhow::Result<()> {
    if let Some(dir) = scratch.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let mut copy = dynoxide::storage::Storage::new(&path_str(scratch)?)
        .map_err(|e| anyhow::anyhow!("creating the scratch copy {}: {e}", scratch.display()))?;
    let unusable = |e: &dyn std::fmt::Display| anyhow::anyhow!("not a usable backup ({e}); the store was not changed");
    copy.restore_from(&path_str(source)?).map_err(|e| unusable(&e))?;
    let verdict: Vec<String> = copy
        .conn()
        .prepare("PRAGMA integrity_check(5)")
        .and_then(|mut check| check.query_map([], |row| row.get::<_, String>(0))?.collect())
        .map_err(|e| unusable(&e))?;
    if verdict != ["ok"] {
        let problems = verdict.join("; ").split_whitespace().collect::<Vec<_>>().join(" ");
        anyhow::bail!("the backup is damaged (SQLite integrity check: {problems}); the store was not changed");
    }
    // Closing the copy folds its write-ahead log into the file the restore reads.
    drop(copy);
    Ok(())
}

/// Removes an SQLite database file and its `-wal`, `-shm` and `-journal` files.
fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(sibling(path, suffix));
    }
}

fn require_file_store(data_path: &str) -> anyhow::Result<()> {
    if data_path == ":memory:" {
        anyhow::bail!("DYNAMODB_DATA_PATH is :memory:, which has nothing on disk to back up or restore");
    }
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn path_str(path: &Path) -> anyhow::Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("{} is not valid UTF-8", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_holder() {
        let dir = tempdir();
        let data = dir.join("store.sqlite");
        let data = data.to_str().expect("utf-8");
        let held = StoreLock::acquire(data).expect("first lock");
        let err = StoreLock::acquire(data).expect_err("second lock");
        assert!(err.to_string().contains("stop the service first"), "{err}");
        drop(held);
        StoreLock::acquire(data).expect("lock after release");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn memory_stores_have_nothing_to_back_up() {
        let err = backup(":memory:", Path::new("/tmp/never")).expect_err("memory");
        assert!(err.to_string().contains(":memory:"), "{err}");
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "krv-backup-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("tempdir");
        dir
    }
}
