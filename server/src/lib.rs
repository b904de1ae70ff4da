//! The local server: every endpoint group's routes in one axum process.
//!
//! Lambda binaries never link this crate, so the embedded store stays out of them.

pub mod embedded;
pub mod settings;

use shared::Routes;

/// Every group's routes. Adding a group is one line here.
pub fn routes() -> Routes {
    Routes::default()
        .merge(krv_health::routes())
        .merge(krv_auth::routes())
        .merge(krv_tokens::routes())
        .merge(krv_users::routes())
        .merge(krv_invitations::routes())
        .merge(krv_groups::routes())
        .merge(krv_tasks::routes())
        .merge(krv_vps::routes())
        .merge(krv_admin::routes())
}
