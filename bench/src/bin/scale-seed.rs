//! Fills the stores of a stopped `krv-server` for the scale scenario of
//! `bench/run` (what and how: `src/scale.rs`). It reads the same environment
//! as `krv-server` (`DYNAMODB_DATA_PATH`, `REDIS_URL`, `SESSION_SIGNING_KEY`,
//! …) and serves the embedded store itself while it seeds, which is why the
//! server must be stopped (it holds the store's lock).
//!
//! Usage: `scale-seed USERS SESSIONS TOKENS SAMPLE OUT_DIR`. Writes
//! `OUT_DIR/sessions.txt` (`Cookie` values: the newest session of `SAMPLE`
//! users spread over all of them), `OUT_DIR/tokens.txt` (`Authorization`
//! values of `SAMPLE` tokens) and `OUT_DIR/users.txt` (`SAMPLE` usernames),
//! and prints one JSON object: the counts, the users' password and how long
//! each phase took.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krv_bench::scale::{self, Plan};
use krv_server::backup::StoreLock;
use krv_server::embedded::{self, EmbeddedDynamo};
use krv_server::settings::{DynamoMode, ServerSettings};
use serde_json::json;
use shared::AppState;
use shared::config::Config;
use shared::db::dynamo::Endpoint;
use shared::db::tables;
use shared::env::Env;

#[tokio::main]
#[expect(clippy::print_stdout, reason = "the summary is this program's output")]
async fn main() -> anyhow::Result<()> {
    let began = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [users, sessions, tokens, sample, out] = args.as_slice() else {
        anyhow::bail!("usage: scale-seed USERS SESSIONS TOKENS SAMPLE OUT_DIR");
    };
    let plan =
        Plan { users: users.parse()?, sessions: sessions.parse()?, tokens: tokens.parse()?, sample: sample.parse()? };
    let out = std::path::Path::new(out);

    let env = Env::process();
    let mut config = Config::from(&env).map_err(|e| anyhow::anyhow!("{}: {}", e.var, e.problem))?;
    // A batch may wait behind others for the store's one writer; the
    // service's bound (a request's answer within two seconds) is not the
    // seeder's.
    config.stores.timeout = Duration::from_secs(30);
    let settings = ServerSettings::from(&env).map_err(|e| anyhow::anyhow!("{}: {}", e.var, e.problem))?;
    let DynamoMode::Embedded { path } = settings.dynamodb else {
        anyhow::bail!("scale-seed fills the embedded store (DYNAMODB_DATA_PATH); an external DynamoDB is set");
    };
    let _lock = StoreLock::acquire(&path)?;
    let db = embedded::open(&path)?;
    // No fsync per commit while seeding: the run can be repeated if the
    // machine stops, and the service reopens the file with its own settings.
    db.enable_bulk_loading().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut store = EmbeddedDynamo::start(db.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let state = AppState::connect(config, &Endpoint { url: Some(store.endpoint()) }).await?;
    tables::ensure(&state.stores, &state.config.stores.table_prefix).await?;

    let seeded = scale::seed(&state, &plan).await?;

    let write_lines = |name: &str, prefix: &str, values: &[String]| -> anyhow::Result<()> {
        let mut lines = String::new();
        for value in values {
            writeln!(lines, "{prefix}{value}")?;
        }
        Ok(std::fs::write(out.join(name), lines)?)
    };
    write_lines("sessions.txt", "kohakuriver_session=", &seeded.sessions)?;
    write_lines("tokens.txt", "Bearer ", &seeded.tokens)?;
    write_lines("users.txt", "", &seeded.usernames)?;
    store.stop().await;
    db.disable_bulk_loading().map_err(|e| anyhow::anyhow!("{e}"))?;

    let t = seeded.timings;
    let summary = json!({
        "users": plan.users, "sessions": plan.sessions, "tokens": plan.tokens, "sample": plan.sample,
        "user_ids": [seeded.user_ids.0, seeded.user_ids.1], "password": scale::PASSWORD,
        "users_secs": t.users, "user_cache_secs": t.user_cache, "tokens_secs": t.tokens,
        "sessions_secs": t.sessions, "total_secs": began.elapsed().as_secs_f64(),
    });
    println!("{summary}");
    Ok(())
}
