//! Keys that more than one aggregate writes under: a user record is named by
//! the user store, by group memberships (which add to its group set) and by
//! the actor check of every audited transaction.

/// The partition key of user `id`'s record (sort key `USER`).
pub fn user_pk(id: u64) -> String {
    format!("USER#{id}")
}
