//! The common library of every endpoint group: configuration, the one error type,
//! the request pipeline (state, layers, Lambda and local runners) and store access.
//!
//! Function crates depend on this crate and never on each other; nothing here
//! depends on a function crate.

pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod env;
pub mod error;
pub mod groups;
pub mod http;
pub mod identity;
pub mod invitations;
pub mod masked;
pub mod mfa;
pub mod oidc;
pub mod quotas;
pub mod read_model;
pub mod sessions;
pub mod tasks;
pub mod telemetry;
pub mod tokens;
pub mod types;
pub mod users;
pub mod vps;

#[cfg(test)]
mod layering;

/// Every binary of the service (the local server, each Lambda, the CLI and the
/// tests) allocates with mimalloc: a request allocates and frees many small
/// buffers, and glibc's malloc took a sixth of the service's own time per
/// request in the profile (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::Config;
pub use error::{ApiError, ApiResult};
pub use http::{AppState, Routes};
