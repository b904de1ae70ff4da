//! The common library of every endpoint group: configuration, the one error type,
//! the request pipeline (state, layers, Lambda and local runners) and store access.
//!
//! Function crates depend on this crate and never on each other; nothing here
//! depends on a function crate.

pub mod app;
pub mod auth;
pub mod config;
pub mod dispatch;
pub mod env;
pub mod error;
pub mod extract;
pub mod model;
pub mod openapi;
pub mod page;
pub mod store;
pub mod telemetry;

pub use app::{AppState, Routes};
pub use config::Config;
pub use error::{ApiError, ApiResult};
