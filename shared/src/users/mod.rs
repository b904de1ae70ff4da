//! Users: who they are (model.rs: names and the API view), how they are read
//! and created (store.rs), and the transactional writes of a record (write.rs;
//! `identity` runs them with the user cache in step).

pub mod model;
pub mod store;
pub mod write;

pub use model::*;
pub use store::*;
pub use write::*;
