//! What authorization knows about a user, cached in Redis.

pub mod user_cache;
