//! Load and measurement tooling shared by the benchmarks (`bench/run`) and the
//! tests that drive a served instance over real HTTP (store faults, soak,
//! self-hosting): a load client that times and records every request, and
//! readings of a process's descriptors and memory. The `lambda-bench` binary
//! measures the Lambda path for BENCHMARKS.md.

pub mod load;
pub mod proc_stats;
