//! Measures the Lambda path for BENCHMARKS.md, through the test kit's Runtime
//! API emulator on the kit's stores:
//!
//! - the cold start (process start to first answered invocation) of the
//!   release `krv-auth` against `lambda-floor` (a bare `lambda_http` axum
//!   function, `bench/src/bin/lambda-floor.rs`), each the median of several
//!   fresh processes, for two requests: `GET /api/auth/me` with a session
//!   cookie (one Redis round trip; the floor makes one Redis `GET` on a
//!   connection it opens then, as the service does) and `GET /api/auth/status`
//!   (no I/O; the floor touches nothing);
//! - the cold start of `krv-health` and its warm invocation latency;
//! - the size of every release Lambda binary and of the floor.
//!
//! Prints one JSON object. Run by `bench/run` after the release build.

use std::collections::BTreeMap;
use std::time::Instant;

use krv_tests::TestApp;
use krv_tests::bins::binary;
use krv_tests::lambda::LambdaRuntime;
use serde_json::{Value, json};

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
    "lambda-floor",
];
const WARM: usize = 300;
/// Fresh processes per cold-start figure (after one untimed start that brings
/// the binary into the page cache); the median is reported.
const COLD_RUNS: usize = 9;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

/// A cold-start figure: its name, the binary, its environment, the event.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a Value);

/// One cold start: a fresh process of `bin` with `env`, timed from its spawn
/// to the answer to `event`, which must be a 200.
async fn cold_start(bin: &str, env: &[(&str, &str)], event: &Value) -> f64 {
    let mut runtime = LambdaRuntime::start().await.expect("emulator");
    let started = Instant::now();
    runtime.spawn_function(&binary(bin), env).expect("spawn");
    let answer = runtime.invoke(event.clone()).await.expect("first invocation");
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(answer["statusCode"], 200, "{bin} did not answer {}: {answer}", event["rawPath"]);
    elapsed
}

/// The API Gateway (HTTP API) event of a GET of `path`, with `cookie` if given.
fn get_event(fixture: &Value, path: &str, cookie: Option<&str>) -> Value {
    let mut event = fixture.clone();
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    if let Some(cookie) = cookie {
        event["cookies"] = json!([cookie]);
    }
    event
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the report is this program's output")]
async fn main() {
    let app = TestApp::start().await;
    let fixture: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/apigw-v2/health-ready.json")).expect("fixture");
    let settings = app.process_env();
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let redis_url = settings.iter().find(|(k, _)| k == "REDIS_URL").map(|(_, v)| v.as_str()).expect("REDIS_URL");
    let floor_redis = [("REDIS_URL", redis_url)];
    // A logged-in user: registration caches the user, as a login does.
    let admin = app.with_admin().await;
    let me = get_event(&fixture, "/api/auth/me", Some(&format!("kohakuriver_session={}", admin.token)));
    let status = get_event(&fixture, "/api/auth/status", None);

    // Runs are interleaved so a busy moment of the machine does not fall on
    // one side only.
    let cases: [Case<'_>; 4] = [
        ("krv-auth /me", "krv-auth", &env, &me),
        ("lambda-floor /me", "lambda-floor", &floor_redis, &me),
        ("krv-auth /status", "krv-auth", &env, &status),
        ("lambda-floor /status", "lambda-floor", &[], &status),
    ];
    let mut runs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for round in 0..=COLD_RUNS {
        for (name, bin, env, event) in &cases {
            let ms = cold_start(bin, env, event).await;
            if round > 0 {
                runs.entry(name).or_default().push(ms);
            }
        }
    }
    let cold: BTreeMap<&str, Value> = runs
        .into_iter()
        .map(|(name, mut ms)| {
            ms.sort_by(f64::total_cmp);
            (name, json!({"median_ms": percentile(&ms, 0.5), "min_ms": ms[0], "max_ms": ms[ms.len() - 1]}))
        })
        .collect();

    let ready = fixture;
    let mut runtime = LambdaRuntime::start().await.expect("emulator");
    let started = Instant::now();
    runtime.spawn_function(&binary("krv-health"), &env).expect("spawn");
    let first = runtime.invoke(ready.clone()).await.expect("first invocation");
    let health_cold = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(first["statusCode"], 200, "the function is not ready: {first}");
    let mut warm = Vec::with_capacity(WARM);
    for _ in 0..WARM {
        let t = Instant::now();
        runtime.invoke(ready.clone()).await.expect("warm invocation");
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    warm.sort_by(f64::total_cmp);
    let sizes: BTreeMap<&str, u64> =
        FUNCTIONS.iter().map(|f| (*f, std::fs::metadata(binary(f)).map(|m| m.len()).unwrap_or(0))).collect();
    let report = json!({
        "cold_runs": COLD_RUNS,
        "cold": cold,
        "cold_start_ms": health_cold,
        "warm_invocations": WARM,
        "warm_p50_ms": percentile(&warm, 0.5),
        "warm_p99_ms": percentile(&warm, 0.99),
        "binary_sizes": sizes,
    });
    println!("{report}");
}
