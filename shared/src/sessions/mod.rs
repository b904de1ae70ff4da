//! Login sessions in Redis.

pub mod store;

pub use store::*;
