//! Groups and memberships.

pub mod store;

pub use store::*;
