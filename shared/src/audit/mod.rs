//! The audit log (store.rs) and the check that an event's actor may still act (actor.rs).

pub mod actor;
pub mod store;

pub use store::*;
