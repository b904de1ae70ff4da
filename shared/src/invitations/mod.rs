//! Invitation codes: their storage (store.rs), their use (redeem.rs) and the API view (view.rs).

pub mod redeem;
pub mod store;
pub mod view;

pub use redeem::{RedeemError, redeem};
pub use store::*;
pub use view::*;
