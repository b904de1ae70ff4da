//! The one owner of the cached user. Authorization reads what it needs about a
//! user (role, activity, groups, credential generation) from a Redis entry
//! (`user_cache`); every write that changes any of that goes through this
//! module, which keeps the entry in step, so no write path can forget it.
//! Handlers never touch `user_cache`; the extractor reads through [`current`].

mod change;
mod factors;
mod membership;
mod remove;
pub mod user_cache;

pub use change::{current, set_password, signed_in, update};
pub use factors::factors_changed;
pub use membership::{
    change_group, delete_group, join_group, leave_group, make_manager, managed_group_of, members_of, unmake_manager,
};
pub use remove::{Removed, delete_user};
