//! Store faults under load: readers and writers over HTTP while each store
//! stops, hangs and comes back; every answer checked, then every acknowledged
//! write looked for in DynamoDB.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::workers::{
    Acked, Shared, fixture, invited_registrar, session_reader, task_flow, token_creator, token_me, token_reader,
    user_creator,
};
use super::{ANSWER_WITHIN, FAULTS, RECOVERY, STEADY, lasts};
use krv_bench::load::{LoadClient, Sample};
use krv_tests::invariants::{self, Snapshot};
use krv_tests::store_faults::StoreFault;
use krv_tests::{Auth, TestApp};
use reqwest::StatusCode;
use shared::db::item::get_n;

/// Every kind of request the workers send, with the status that means success.
/// `login` is not listed: it is only sent when a session was lost.
const OPS: &[(&str, u16)] = &[
    ("me-session", 200),
    ("me-token", 200),
    ("list-users", 200),
    ("list-tasks", 200),
    ("pending-count", 200),
    ("create-user", 201),
    ("register-invited", 201),
    ("submit-task", 202),
    ("approve-task", 200),
    ("create-token", 201),
];

/// Writes whose requests need DynamoDB (none can succeed while it is down).
const WRITES: &[&str] = &["create-user", "register-invited", "submit-task", "approve-task", "create-token", "login"];

fn expected_status(op: &str) -> u16 {
    OPS.iter().find(|(name, _)| *name == op).map_or(200, |(_, status)| *status)
}

/// Waits until every kind of request has succeeded at least once after
/// `since`; fails the test if that takes longer than `limit`. Returns how long it took.
async fn until_all_succeed(client: &LoadClient, since: Duration, limit: Duration, after: &str) -> Duration {
    loop {
        let samples = client.samples();
        let missing: Vec<&str> = OPS
            .iter()
            .map(|(op, _)| *op)
            .filter(|op| !samples.iter().any(|s| s.op == *op && s.sent >= since && s.is_success()))
            .collect();
        if missing.is_empty() {
            return client.now().saturating_sub(since);
        }
        if client.now() > since + limit {
            let last: Vec<String> = missing
                .iter()
                .filter_map(|op| samples.iter().rev().find(|s| s.op == *op).map(Sample::describe))
                .collect();
            panic!("no success within {limit:?} after {after} for {missing:?}; last answers:\n{}", last.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One outage, from when to when (on the client's clock).
struct Outage {
    fault: StoreFault,
    down: Duration,
    up: Duration,
    recovered_in: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_outages_under_load_answer_503_quickly_recover_and_lose_no_acknowledged_write() {
    // The production store timeout, so the 2 s bound is checked as deployed.
    let app = TestApp::builder().envs(&[("STORE_TIMEOUT_MS", "1500")]).build().await;
    let fx = Arc::new(fixture(&app).await);
    let (url, _server) = app.serve().await;
    let client = LoadClient::new(&url);
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Shared = Arc::default();

    let mut workers = vec![
        tokio::spawn(session_reader(client.clone(), Arc::clone(&fx), Arc::clone(&stop))),
        tokio::spawn(token_me(client.clone(), Arc::clone(&fx), Arc::clone(&stop))),
        tokio::spawn(token_reader(client.clone(), Arc::clone(&fx), Arc::clone(&stop))),
    ];
    workers.push(tokio::spawn(user_creator(client.clone(), Arc::clone(&fx), Arc::clone(&stop), Arc::clone(&acked))));
    workers.push(tokio::spawn(invited_registrar(
        client.clone(),
        Arc::clone(&fx),
        Arc::clone(&stop),
        Arc::clone(&acked),
    )));
    workers.push(tokio::spawn(task_flow(client.clone(), Arc::clone(&fx), Arc::clone(&stop), Arc::clone(&acked))));
    workers.push(tokio::spawn(token_creator(client.clone(), Arc::clone(&fx), Arc::clone(&stop), Arc::clone(&acked))));

    until_all_succeed(&client, Duration::ZERO, RECOVERY, "the start").await;
    tokio::time::sleep(STEADY).await;

    let mut outages = Vec::new();
    for fault in FAULTS {
        fault.begin(&mut *app.stack.lock().await).await.expect("the fault begins");
        let down = client.now();
        tokio::time::sleep(lasts(fault)).await;
        let up = client.now();
        fault.end(&mut *app.stack.lock().await).await.expect("the stores come back");
        let restarted = client.now();
        let recovered_in = until_all_succeed(&client, restarted, RECOVERY, &format!("{} ended", fault.name())).await;
        outages.push(Outage { fault, down, up, recovered_in });
        tokio::time::sleep(STEADY).await;
    }

    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker).await.expect("workers stop").expect("worker task");
    }
    let samples = client.samples();
    let acked = std::mem::take(&mut *acked.lock().expect("acked lock"));
    for o in &outages {
        let (name, down, up) = (o.fault.name(), o.down.as_secs_f64(), o.up.as_secs_f64());
        eprintln!("{name}: {down:.1}s–{up:.1}s, every kind of request succeeded again {:?} after", o.recovered_in);
    }
    eprintln!(
        "{} requests; acknowledged: {} users, {} invited, {} tasks, {} approvals, {} tokens",
        samples.len(),
        acked.users.len(),
        acked.invited.len(),
        acked.tasks.len(),
        acked.approved.len(),
        acked.tokens.len()
    );

    check_answers(&samples, &outages);
    for outage in &outages {
        check_outage(&samples, outage);
    }
    check_stored(&app, &acked).await;
}

/// Every answer: in time, and either the expected success or a proper 503,
/// or a 401 for a session that Redis lost (only between a restart of Redis
/// that wiped its data and the next successful login).
fn check_answers(samples: &[Sample], outages: &[Outage]) {
    let relogged = |after: Duration| {
        samples
            .iter()
            .filter(|s| s.op == "login" && s.is_success() && s.sent >= after)
            .map(|s| s.answered)
            .min()
            .unwrap_or(Duration::MAX)
    };
    let lost: Vec<(Duration, Duration)> =
        outages.iter().filter(|o| o.fault.loses_redis_data()).map(|o| (o.down, relogged(o.up))).collect();
    let mut bad = Vec::new();
    for s in samples {
        let expected = s.status.is_some_and(|st| st.as_u16() == expected_status(s.op));
        let lost_session = s.op == "me-session"
            && s.status == Some(StatusCode::UNAUTHORIZED)
            && lost.iter().any(|(from, to)| s.sent >= *from && s.sent <= *to);
        if s.latency() >= ANSWER_WITHIN || !(expected || s.is_well_formed_503() || lost_session) {
            bad.push(s.describe());
        }
    }
    assert!(bad.is_empty(), "{} of {} answers were late or wrong:\n{}", bad.len(), samples.len(), bad.join("\n"));
}

/// During an outage: Redis down means every request here is refused with a
/// 503 (each one needs Redis); DynamoDB down alone refuses every write and
/// every list, while warm credentials keep `/me` working.
fn check_outage(samples: &[Sample], outage: &Outage) {
    let during: Vec<&Sample> = samples.iter().filter(|s| s.within(outage.down, outage.up)).collect();
    let name = outage.fault.name();
    let refused = during.iter().filter(|s| s.is_well_formed_503()).count();
    assert!(refused >= 5, "only {refused} requests were refused while {name}");
    if outage.fault.redis() {
        let served: Vec<String> = during.iter().filter(|s| !s.is_well_formed_503()).map(|s| s.describe()).collect();
        assert!(served.is_empty(), "answers other than 503 while {name}:\n{}", served.join("\n"));
    } else {
        let applied: Vec<String> = during
            .iter()
            .filter(|s| (WRITES.contains(&s.op) || s.op.starts_with("list-")) && !s.is_well_formed_503())
            .map(|s| s.describe())
            .collect();
        assert!(applied.is_empty(), "writes or lists not refused while {name}:\n{}", applied.join("\n"));
        for op in ["me-token", "me-session"] {
            let answers: Vec<String> = during.iter().filter(|s| s.op == op).map(|s| s.describe()).collect();
            assert!(
                during.iter().any(|s| s.op == op && s.is_success()),
                "{op} never succeeded while {name} (warm credentials must keep working); answers:\n{}",
                answers.join("\n")
            );
        }
    }
}

/// The stored state, read straight from DynamoDB, consistent in itself (see
/// `krv_tests::invariants`) and holding every acknowledged write.
async fn check_stored(app: &TestApp, acked: &Acked) {
    assert!(!acked.users.is_empty() && !acked.invited.is_empty(), "no user creation was acknowledged");
    assert!(!acked.approved.is_empty() && !acked.tokens.is_empty(), "no approval or token was acknowledged");
    let stored = Snapshot::read(&app.state.stores).await.expect("stores readable after the run");

    // Users: each with exactly its username reservation, the counters exact.
    let users = stored.consistent_users();
    for (id, name) in acked.users.iter().chain(&acked.invited) {
        let (stored_name, _, _) = users.get(id).unwrap_or_else(|| panic!("acknowledged user {id} ({name}) is missing"));
        assert_eq!(stored_name, name);
    }

    // The invitation: one use per user it registered (only it makes viewers).
    let viewers = users.values().filter(|(_, role, _)| role == "viewer").count();
    let invitations = stored.invitations();
    let [invitation] = invitations.as_slice() else { panic!("{} invitations, expected one", invitations.len()) };
    assert_eq!(get_n::<usize>(invitation, "uses").expect("uses"), viewers, "invitation uses vs users it registered");

    // Tokens: each with both lookup items, none without its token; the
    // acknowledged ones there and working.
    let token_ids = stored.consistent_tokens();
    for (id, token) in &acked.tokens {
        assert!(token_ids.contains(id), "acknowledged token {id} is missing");
        app.call(http::Method::GET, "/api/auth/me", Auth::Bearer(token), None)
            .await
            .assert_status(http::StatusCode::OK);
    }

    // Tasks: the badge counter equals the tasks waiting; acknowledged ones are there.
    let status = stored.consistent_tasks();
    for id in &acked.tasks {
        assert!(status.contains_key(id), "acknowledged task {id} is missing");
    }
    for id in &acked.approved {
        assert_eq!(status.get(id).map(String::as_str), Some("assigning"), "acknowledged approval of task {id}");
    }

    // Audit events go into the same transactions: one per change made, none
    // for a change that failed. Every user but the first admin (registered
    // with the secret) was made by an admin or an invitation.
    let assigning = status.values().filter(|s| *s == "assigning").count();
    assert_eq!(stored.events("user.create"), users.len() - viewers - 1, "user.create events vs users");
    assert_eq!(stored.events("invitation.use"), viewers, "invitation.use events vs users registered with it");
    assert_eq!(stored.events("token.create"), token_ids.len(), "token.create events vs tokens");
    assert_eq!(stored.events("task.submit"), status.len(), "task.submit events vs tasks (one per submission)");
    assert_eq!(stored.events("task.approve"), assigning, "task.approve events vs approved tasks");

    // The badge as served agrees.
    let pending = status.values().filter(|s| *s == "pending_approval").count();
    let badge = app
        .call(http::Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(&admin_of(app).await), None)
        .await;
    assert_eq!(badge.json()["count"].as_u64(), Some(u64::try_from(pending).expect("count")), "the badge as served");

    // Nothing in Redis lives for ever.
    let keys = invariants::check_redis_expiry(&app.state.stores.redis).await.expect("redis keys expire");
    assert!(keys > 0, "no key in Redis after the run");
}

/// A fresh session of the admin (sessions may have died with Redis' data).
async fn admin_of(app: &TestApp) -> String {
    app.login("boss").await
}
