//! The audit log (store.rs), its API view (view.rs) and the check that an
//! event's actor may still act (actor.rs).

pub mod actor;
pub mod store;
pub mod view;

pub use store::*;
pub use view::*;
