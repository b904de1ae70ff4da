//! Tasks: the model and its rules (model.rs), storage (store.rs) and the scheduler webhook (dispatch.rs).

pub mod dispatch;
pub mod model;
pub mod store;

pub use model::*;
pub use store::*;
