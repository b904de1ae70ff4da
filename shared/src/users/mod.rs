//! Users: who they are (model.rs: names and the API view) and how they are stored (store.rs).

pub mod model;
pub mod store;

pub use model::*;
pub use store::*;
