//! VPS assignments.

pub mod store;

pub use store::*;
