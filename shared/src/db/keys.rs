//! Keys that more than one aggregate writes under: a user record is named by
//! the user store, by group memberships (which add to its group set) and by
//! the actor check of every audited transaction.

/// The partition key of user `id`'s record (sort key `USER`).
pub fn user_pk(id: u64) -> String {
    format!("USER#{id}")
}

/// The Redis hash tag of everything kept about user `id` (the cached user,
/// their sessions and session index, their tokens' cache entries, the
/// activity markers): one slot, so one script may read and write them
/// together on a Redis Cluster too.
pub fn user_tag(id: u64) -> String {
    format!("{{u{id}}}")
}
