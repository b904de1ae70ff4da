//! Value types every layer shares: roles and timestamps.

pub mod role;
pub mod time;

pub use role::Role;
pub use time::Timestamp;
