//! Test kit for the integration tests (the `it` test binary): real stores per
//! test (an in-memory Dynoxide served on loopback and a `redis-server` child
//! process, or a three-node Redis Cluster with `KRV_TEST_REDIS=cluster`), the
//! merged router built on them with fixtures to fill them, one builder for
//! raw requests, a Lambda Runtime API emulator for the Lambda binaries and
//! the built `krv-server` run as a child process.

pub mod app;
pub mod bins;
pub mod fixtures;
pub mod invariants;
pub mod lambda;
pub mod oidc;
pub mod request;
pub mod server_process;
pub mod stack;
pub mod store_faults;

pub use app::{ADMIN_SECRET, PASSWORD, REGISTER_SECRET, ServerGuard, TestApp, TestAppBuilder};
pub use fixtures::{SYSTEM, TestUser, task_id};
pub use oidc::{BrowseResult, IdpClient, TestIdp};
pub use request::{Auth, TestRequest, TestResponse};
pub use stack::{RedisCluster, RedisServer, StackRedis, TestStack};
