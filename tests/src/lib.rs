//! Test kit for the integration tests: real stores per test (an in-memory
//! Dynoxide served on loopback and a `redis-server` child process), the merged
//! router built on them, and a Lambda Runtime API emulator for the Lambda binaries.

pub mod app;
pub mod bins;
pub mod invariants;
pub mod lambda;
pub mod load;
pub mod proc_stats;
pub mod server_process;
pub mod stack;
pub mod store_faults;

pub use app::{ADMIN_SECRET, Auth, PASSWORD, REGISTER_SECRET, ServerGuard, TestApp, TestResponse};
pub use stack::{RedisServer, TestStack};
