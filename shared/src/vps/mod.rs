//! VPS assignments: keys and reads (store.rs), changes (write.rs) and the API
//! view of a listed VPS (view.rs).

pub mod store;
pub mod view;
pub mod write;

pub use store::*;
pub use view::*;
pub use write::*;
