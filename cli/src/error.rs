//! Errors that carry the process exit code (see `docs/cli.md`).

use std::fmt;

/// Anything not classified below (local I/O, a malformed answer).
pub const GENERAL: u8 = 1;
/// Authentication or authorization refused (HTTP 401/403), or not logged in.
pub const AUTH: u8 = 3;
/// The thing named does not exist (HTTP 404, or no such name).
pub const NOT_FOUND: u8 = 4;
/// Conflict or invalid input (HTTP 400, 409, 422, 429 and other 4xx).
pub const CONFLICT: u8 = 5;
/// The server failed (5xx) or could not be reached.
pub const SERVER: u8 = 6;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The process exit code.
    pub exit_code: u8,
    /// What is shown to the user.
    pub message: String,
    /// The server's stable machine name for the refusal (`code`), when it gave one.
    pub code: Option<String>,
}

impl CliError {
    /// An error with an explicit exit code.
    pub fn new(exit_code: u8, message: impl Into<String>) -> Self {
        Self { exit_code, message: message.into(), code: None }
    }

    /// The same error, carrying the server's `code`.
    pub fn with_code(mut self, code: Option<String>) -> Self {
        self.code = code;
        self
    }

    /// Whether `err` is a refusal the server named `code`.
    pub fn has_code(err: &anyhow::Error, code: &str) -> bool {
        err.downcast_ref::<Self>().is_some_and(|e| e.code.as_deref() == Some(code))
    }

    /// The exit code for an HTTP error status.
    pub fn code_for_status(status: u16) -> u8 {
        match status {
            401 | 403 => AUTH,
            404 => NOT_FOUND,
            500..=599 => SERVER,
            _ => CONFLICT,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}
