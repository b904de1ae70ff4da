//! The audit log (store.rs), its API view (view.rs), the check that an
//! event's actor may still act (actor.rs) and the login activity counters
//! (activity.rs).

pub mod activity;
pub mod actor;
pub mod store;
pub mod view;

pub use store::*;
pub use view::*;
