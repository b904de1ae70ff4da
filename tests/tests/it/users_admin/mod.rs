//! User administration: listing, roles, activity, deletion, the guards, and
//! changes taking effect on the next request everywhere.

mod lifecycle;
mod listing;
mod roles;

fn user_path(id: u64) -> String {
    format!("/api/auth/users/{id}")
}
