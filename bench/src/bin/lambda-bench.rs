//! Measures the Lambda path for BENCHMARKS.md: the cold start of the release
//! `krv-health` binary (process start to first answered invocation, through the
//! test kit's Runtime API emulator) and warm invocation latency, and lists the
//! size of every release Lambda binary. Prints one JSON object.
//!
//! Run by `bench/run` after `cargo build --release --workspace --bins`; the
//! stores and the emulator are the test kit's (`krv_tests`).

use std::collections::BTreeMap;
use std::time::Instant;

use krv_tests::TestApp;
use krv_tests::bins::binary;
use krv_tests::lambda::LambdaRuntime;
use serde_json::json;

const FUNCTIONS: &[&str] = &[
    "krv-health",
    "krv-auth",
    "krv-tokens",
    "krv-users",
    "krv-invitations",
    "krv-groups",
    "krv-tasks",
    "krv-vps",
    "krv-admin",
];
const WARM: usize = 300;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the report is this program's output")]
async fn main() {
    let app = TestApp::start().await;
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/apigw-v2/health-ready.json")).expect("fixture");
    let env = app.process_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut runtime = LambdaRuntime::start().await.expect("emulator");
    let started = Instant::now();
    runtime.spawn_function(&binary("krv-health"), &env).expect("spawn");
    let first = runtime.invoke(fixture.clone()).await.expect("first invocation");
    let cold = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(first["statusCode"], 200, "the function is not ready: {first}");
    let mut warm = Vec::with_capacity(WARM);
    for _ in 0..WARM {
        let t = Instant::now();
        runtime.invoke(fixture.clone()).await.expect("warm invocation");
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    warm.sort_by(f64::total_cmp);
    let sizes: BTreeMap<&str, u64> =
        FUNCTIONS.iter().map(|f| (*f, std::fs::metadata(binary(f)).map(|m| m.len()).unwrap_or(0))).collect();
    let report = json!({
        "cold_start_ms": cold,
        "warm_invocations": WARM,
        "warm_p50_ms": percentile(&warm, 0.5),
        "warm_p99_ms": percentile(&warm, 0.99),
        "binary_sizes": sizes,
    });
    println!("{report}");
}
