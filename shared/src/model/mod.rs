//! Domain types shared by the groups: roles, users, timestamps.

pub mod role;
pub mod task;
pub mod time;
pub mod token;
pub mod user;

pub use role::Role;
pub use time::Timestamp;
pub use token::TokenView;
pub use user::{UserView, Username};
