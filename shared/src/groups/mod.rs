//! Groups: the group records and their unique names (store.rs), and the
//! memberships (members.rs) and their manager flags (manage.rs).

pub mod manage;
pub mod members;
pub mod store;

pub use manage::*;
pub use members::*;
pub use store::*;
