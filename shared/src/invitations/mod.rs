//! Invitation codes.

pub mod store;

pub use store::*;
