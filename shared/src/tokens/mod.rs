//! API tokens: the API view (model.rs), storage (store.rs), the token format
//! (format.rs) and the Redis cache for the hot path (cache.rs).

pub mod cache;
pub mod format;
pub mod model;
pub mod store;

pub use cache::*;
pub use format::*;
pub use model::*;
pub use store::*;
