//! API tokens: the API view (model.rs), storage (store.rs), the token format
//! (format.rs), what a token may do (scope.rs, grant.rs), rotation
//! (rotate.rs) and the Redis cache for the hot path (cache.rs).

pub mod cache;
pub mod format;
pub mod grant;
pub mod issue;
pub mod model;
pub mod rotate;
pub mod scope;
pub mod store;

pub use cache::*;
pub use format::*;
pub use grant::Grant;
pub use model::*;
pub use scope::{Needs, Resource, Resources, Scope, Scopes};
pub use store::*;
