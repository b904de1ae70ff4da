//! The credentials file: one API token per server, in
//! `$XDG_CONFIG_HOME/kohakuriver/credentials.json` (else `~/.config/…`),
//! readable by the user only.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

/// What is stored for one server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    /// The API token (`krv_…`).
    pub token: String,
    /// The token's id on the server, when known (for `auth logout --revoke`).
    #[serde(default)]
    pub token_id: Option<u64>,
    /// The token's name on the server, when known.
    #[serde(default)]
    pub token_name: Option<String>,
    /// The user the token acts as.
    #[serde(default)]
    pub username: Option<String>,
    /// When the token expires (RFC 3339), if it does.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The credential is a login session, not an API token. Kept only while
    /// the server confines the user to enrolling a second factor (their role
    /// requires one and no token can be created before it exists), so that
    /// `auth mfa totp enable` has something to authenticate with; `auth
    /// logout` and the next `auth login` end it on the server.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub session: bool,
}

/// The whole file: server base URL → credentials.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// Keyed by the normalised server URL.
    #[serde(default)]
    pub servers: BTreeMap<String, Stored>,
}

/// `$XDG_CONFIG_HOME/kohakuriver/credentials.json`, or under `~/.config`.
pub fn path() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|home| home.join(".config")))
        .ok_or_else(|| anyhow!("cannot find the configuration directory: set HOME or XDG_CONFIG_HOME"))?;
    Ok(base.join("kohakuriver").join("credentials.json"))
}

impl Credentials {
    /// Reads the file; a missing file is empty.
    pub fn load() -> Result<Self> {
        let path = path()?;
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the file atomically: a temporary file created with mode 0600 in
    /// the same directory, then renamed over the old one, so the token is never
    /// readable by others, not even for a moment.
    pub fn save(&self) -> Result<PathBuf> {
        let path = path()?;
        let dir = path.parent().ok_or_else(|| anyhow!("{} has no parent directory", path.display()))?;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = dir.join(format!(".credentials.json.{}.tmp", std::process::id()));
        let mut body = serde_json::to_vec_pretty(self)?;
        body.push(b'\n');
        // A leftover from a crashed run with the same pid would block create_new.
        let _ = fs::remove_file(&tmp);
        if let Err(err) = write_private(&tmp, &path, &body) {
            let _ = fs::remove_file(&tmp);
            return Err(err);
        }
        Ok(path)
    }
}

/// Writes `body` to `tmp`, created with mode 0600 (never wider, not even
/// before a chmod), then renames it to `path`.
fn write_private(tmp: &Path, path: &Path, body: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(body)?;
    file.sync_all()?;
    fs::rename(tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
