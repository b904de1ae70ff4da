//! API tokens: the API view (model.rs) and storage, format and cache (store.rs).

pub mod model;
pub mod store;

pub use model::*;
pub use store::*;
