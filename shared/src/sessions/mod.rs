//! Login sessions in Redis (store.rs) and as the API shows them (view.rs).

pub mod store;
pub mod view;

pub use store::*;
pub use view::SessionView;
