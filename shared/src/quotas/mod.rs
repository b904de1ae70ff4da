//! Quotas: limits per group and per user on what tasks ask for, and the usage
//! counters that enforce them.
//!
//! Key layout (in the `tasks` table, so the counters change in the same
//! transactions as the task items): `QUOTA#GROUP#<id>`/`QUOTA` and
//! `QUOTA#USER#<id>`/`QUOTA`, each holding the limits (`max_*`, absent =
//! unlimited, and `auto_approve`), their version `limits_v` (bumped by every
//! change of the limits) and the usage counters (`used_*`).
//!
//! A task counts from when it is approved until it ends (see `counts`); its
//! share is added to its group's and its owner's counters. For each resource
//! the binding limit is the owner's own one when the owner's quota sets it
//! (measured against the owner's counter), else the group's (measured against
//! the group's counter). A charge is an `ADD` on both items, conditional on
//! the limits being those read (`limits_v`) and on the binding counter having
//! room (`used <= limit - ask`: DynamoDB conditions have no arithmetic, so the
//! threshold is computed from the limits read); of racing charges for the last
//! unit exactly one commits. Releases are unconditional: the status condition
//! of the transition they ride with makes them happen exactly once.

pub mod limits;
pub mod snapshot;
pub mod store;

pub use limits::*;
pub use snapshot::*;
pub use store::*;
