//! VPS assignments: keys and reads (store.rs), changes (write.rs), the grants
//! read model for `/api/authorize` (access.rs) and the API
//! view of a listed VPS (view.rs).

pub mod access;
pub mod store;
pub mod view;
pub mod write;

pub use store::*;
pub use view::*;
pub use write::*;
