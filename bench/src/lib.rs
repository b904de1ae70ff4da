//! Load and measurement tooling shared by the benchmarks (`bench/run`) and the
//! tests that drive a served instance over real HTTP (store faults, soak,
//! self-hosting): a load client that times and records every request,
//! readings of a process's descriptors and memory, and the scale scenario's
//! seeding (`scale-seed`). The `lambda-bench` binary measures the Lambda path
//! for BENCHMARKS.md.

pub mod load;
pub mod proc_stats;
pub mod scale;
