//! Groups: the group records and their unique names (store.rs), and the
//! memberships (members.rs).

pub mod members;
pub mod store;

pub use members::*;
pub use store::*;
