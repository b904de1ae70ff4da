//! `POST /api/authorize` and admins changing users' roles and activity while
//! DynamoDB is stopped, then unresponsive (issue #17); warm, allowed
//! connections keep being answered from Redis (issue #20).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ANSWER_WITHIN, PACE, RECOVERY, STEADY, lasts};
use krv_bench::load::{LoadClient, Sample};
use krv_tests::invariants::Snapshot;
use krv_tests::store_faults::StoreFault;
use krv_tests::{Auth, TestApp};
use reqwest::Method;
use serde_json::json;
use shared::db::item::get_n;

/// One `/api/authorize` question; [`AUTHZ_OPS`] has its right answer under `op`.
struct Question {
    op: &'static str,
    token: String,
    resource: String,
    action: &'static str,
}

/// The states a changed user walks through, one attribute per step: role
/// changes (also while inactive), deactivation and reactivation (also of an
/// admin, which moves the active-admin counter).
const CYCLE: [(&str, bool); 8] = [
    ("user", true),
    ("operator", true),
    ("admin", true),
    ("admin", false),
    ("admin", true),
    ("viewer", true),
    ("viewer", false),
    ("user", false),
];

/// One successful user change in the audit trail: the user's version after
/// it, and the role and activity it set (`None`: unchanged).
type Change = (u64, Option<String>, Option<bool>);

/// The users an admin changes: id, and each change acknowledged with a 200
/// as (role, active) after it, in order.
type Changed = Arc<Mutex<Vec<(u64, Vec<(String, bool)>)>>>;

/// Asks `/api/authorize` its questions in turn.
async fn authorizer(client: LoadClient, questions: Arc<Vec<Question>>, offset: usize, stop: Arc<AtomicBool>) {
    let mut i = offset;
    while !stop.load(Ordering::SeqCst) {
        let q = &questions[i % questions.len()];
        let body = json!({"resource": q.resource, "action": q.action});
        client.send(q.op, client.request(Method::POST, "/api/authorize", Some(&q.token), Some(&body))).await;
        i += 1;
        tokio::time::sleep(PACE).await;
    }
}

/// An admin walking its users round [`CYCLE`], one request at a time: the
/// role with `PUT …/role`, activity with `PATCH`. A step is taken again
/// until a 200 shows its state (a no-op 200 if a failed request did land).
async fn user_changer(client: LoadClient, admin_token: String, changed: Changed, stop: Arc<AtomicBool>) {
    let ids: Vec<u64> = changed.lock().expect("changed lock").iter().map(|(id, _)| *id).collect();
    let mut at = vec![0usize; ids.len()];
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let k = i % ids.len();
        let id = ids[k];
        let (role, _) = CYCLE[at[k]];
        let (next_role, next_active) = CYCLE[(at[k] + 1) % CYCLE.len()];
        let (op, request) = if next_role == role {
            let body = json!({"is_active": next_active});
            let path = format!("/api/auth/users/{id}");
            ("user-activity", client.request(Method::PATCH, &path, Some(&admin_token), Some(&body)))
        } else {
            let path = format!("/api/auth/users/{id}/role");
            let body = json!({"role": next_role});
            ("user-role", client.request(Method::PUT, &path, Some(&admin_token), Some(&body)))
        };
        let (sample, _) = client.send(op, request).await;
        if sample.is_success() {
            let now = (
                sample.body["role"].as_str().unwrap_or_default().to_owned(),
                sample.body["is_active"].as_bool().unwrap_or_default(),
            );
            // Checked against the stored trail at the end.
            changed.lock().expect("changed lock")[k].1.push(now.clone());
            if now == (next_role.to_owned(), next_active) {
                at[k] = (at[k] + 1) % CYCLE.len();
            }
        }
        i += 1;
        tokio::time::sleep(PACE).await;
    }
}

/// What each kind of request in this test answers when it succeeds.
const AUTHZ_OPS: &[(&str, u16)] = &[
    ("authorize-owner", 200),
    ("authorize-assignee", 200),
    ("authorize-operator-manage", 200),
    ("authorize-stranger", 403),
    ("authorize-assignee-manage", 403),
    ("user-role", 200),
    ("user-activity", 200),
];

/// Whether `sample` is the right answer to its request (the 403s are the
/// service's `not_allowed` refusal, the 200s of authorize say `allowed`).
fn authz_expected(sample: &Sample) -> bool {
    let Some((_, status)) = AUTHZ_OPS.iter().find(|(op, _)| *op == sample.op) else { return false };
    match sample.status.map(|s| s.as_u16()) {
        Some(403) if *status == 403 => sample.body["code"] == "not_allowed",
        Some(200) if *status == 200 && sample.op.starts_with("authorize") => sample.body["allowed"] == true,
        Some(200) => *status == 200,
        _ => false,
    }
}

/// Waits until every kind of request of this test has had its right answer
/// after `since`, for at most `limit`.
async fn until_all_answer_right(client: &LoadClient, since: Duration, limit: Duration, after: &str) {
    loop {
        let samples = client.samples();
        let missing: Vec<&str> = AUTHZ_OPS
            .iter()
            .map(|(op, _)| *op)
            .filter(|op| !samples.iter().any(|s| s.op == *op && s.sent >= since && authz_expected(s)))
            .collect();
        if missing.is_empty() {
            return;
        }
        if client.now() > since + limit {
            let last: Vec<String> = missing
                .iter()
                .filter_map(|op| samples.iter().rev().find(|s| s.op == *op).map(Sample::describe))
                .collect();
            panic!(
                "no right answer within {limit:?} after {after} for {missing:?}; last answers:\n{}",
                last.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new user's API token.
async fn user_token(app: &TestApp, admin: &str, name: &str, role: &str) -> (u64, String) {
    let id = app.create_user(admin, name, role).await;
    (id, app.create_token(&app.login(name).await, "load").await.0)
}

/// Every item of a paginated list, read as `token`.
async fn all_pages(app: &TestApp, path: &str, token: &str) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=500&cursor={c}"),
            None => format!("{path}{sep}limit=500"),
        };
        let page = app.call(http::Method::GET, &url, Auth::Bearer(token), None).await;
        page.assert_status(http::StatusCode::OK);
        items.extend(page.json().as_array().expect("a page").iter().cloned());
        match page.header("x-next-cursor") {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// While DynamoDB is stopped, then unresponsive, several clients ask
/// `/api/authorize` (allowed and refused questions) and two admins change
/// users' roles and activity. Every answer comes within 2 s and is either the
/// right one or a JSON 503 with `Retry-After` (never a 500 or a hang), and
/// none but a 503 while DynamoDB is out (authorize reads the VPS there, and
/// every change writes there). Afterwards nothing is half-applied: each
/// changed user, as `GET /api/auth/users/{id}` shows it, is what its audit
/// trail of successful changes leads to, that trail has one event per
/// version with every acknowledged change in it, and the active-admin and
/// role counters in `/api/admin/stats` match the users list.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn authorize_and_user_changes_during_a_dynamodb_outage_answer_503_quickly_and_apply_whole() {
    let app = TestApp::builder().envs(&[("STORE_TIMEOUT_MS", "1500")]).build().await;
    let boss_session = app.first_admin("boss").await;
    let boss = app.create_token(&boss_session, "load").await.0;
    let (boss2_id, boss2) = user_token(&app, &boss, "boss2", "admin").await;
    let (_, operator) = user_token(&app, &boss, "oper", "operator").await;
    let (_, owner) = user_token(&app, &boss, "owner", "user").await;
    let (assignee_id, assignee) = user_token(&app, &boss, "assignee", "user").await;
    let (_, stranger) = user_token(&app, &boss, "stranger", "user").await;

    let body = json!({"task_type": "vps", "required_cores": 1});
    let submitted = app.call(http::Method::POST, "/api/tasks", Auth::Bearer(&owner), Some(&body)).await;
    submitted.assert_status(http::StatusCode::ACCEPTED);
    let vps = krv_tests::task_id(&submitted);
    let approve = format!("/api/approve/{vps}");
    app.call(http::Method::POST, &approve, Auth::Bearer(&operator), None).await.assert_status(http::StatusCode::OK);
    let assign = json!({"user_ids": [assignee_id]});
    let path = format!("/api/vps/{vps}/assign");
    app.call(http::Method::POST, &path, Auth::Bearer(&operator), Some(&assign))
        .await
        .assert_status(http::StatusCode::OK);
    let resource = format!("vps:{vps}");
    let question =
        |op, token: &str, action| Question { op, token: token.to_owned(), resource: resource.clone(), action };
    let questions = Arc::new(vec![
        question("authorize-owner", &owner, "connect"),
        question("authorize-assignee", &assignee, "connect"),
        question("authorize-operator-manage", &operator, "manage"),
        question("authorize-stranger", &stranger, "connect"),
        question("authorize-assignee-manage", &assignee, "manage"),
    ]);
    let mut changed: Vec<Changed> = Vec::new();
    for admin in ["a", "b"] {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push((app.create_user(&boss, &format!("changed-{admin}{n}"), "user").await, Vec::new()));
        }
        changed.push(Arc::new(Mutex::new(ids)));
    }

    let (url, _server) = app.serve().await;
    let client = LoadClient::new(&url);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for offset in 0..3 {
        workers.push(tokio::spawn(authorizer(client.clone(), Arc::clone(&questions), offset, Arc::clone(&stop))));
    }
    for (token, changed) in [(boss.clone(), &changed[0]), (boss2.clone(), &changed[1])] {
        workers.push(tokio::spawn(user_changer(client.clone(), token, Arc::clone(changed), Arc::clone(&stop))));
    }

    until_all_answer_right(&client, Duration::ZERO, RECOVERY, "the start").await;
    tokio::time::sleep(STEADY).await;
    let mut outages = Vec::new();
    for fault in [StoreFault::DynamoStopped, StoreFault::DynamoUnresponsive] {
        fault.begin(&mut *app.stack.lock().await).await.expect("the fault begins");
        let down = client.now();
        tokio::time::sleep(lasts(fault)).await;
        let up = client.now();
        fault.end(&mut *app.stack.lock().await).await.expect("DynamoDB comes back");
        let restarted = client.now();
        until_all_answer_right(&client, restarted, RECOVERY, &format!("{} ended", fault.name())).await;
        outages.push((fault, down, up));
        tokio::time::sleep(STEADY).await;
    }
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker).await.expect("workers stop").expect("worker task");
    }

    // Every answer: in time, and right or a proper 503. During an outage, user
    // changes answer 503 only; an allowed connection is still answered from
    // the grants' Redis read model (right, never more than DynamoDB said),
    // while a refusal, which is audited in DynamoDB, answers 503.
    let samples = client.samples();
    let bad: Vec<String> = samples
        .iter()
        .filter(|s| s.latency() >= ANSWER_WITHIN || !(authz_expected(s) || s.is_well_formed_503()))
        .map(Sample::describe)
        .collect();
    assert!(bad.is_empty(), "{} of {} answers were late or wrong:\n{}", bad.len(), samples.len(), bad.join("\n"));
    for (fault, down, up) in &outages {
        let during: Vec<&Sample> = samples.iter().filter(|s| s.within(*down, *up)).collect();
        let from_redis = |s: &Sample| s.op.starts_with("authorize") && s.status.map(|c| c.as_u16()) == Some(200);
        let served: Vec<String> = during
            .iter()
            .filter(|s| !(s.is_well_formed_503() || from_redis(s) && authz_expected(s)))
            .map(|s| s.describe())
            .collect();
        assert!(served.is_empty(), "answers other than 503 while {}:\n{}", fault.name(), served.join("\n"));
        assert!(during.len() >= 5, "only {} requests were answered while {}", during.len(), fault.name());
        for kind in ["authorize", "user-"] {
            assert!(
                during.iter().any(|s| s.op.starts_with(kind)),
                "no {kind}… request was answered while {}",
                fault.name()
            );
        }
    }
    let count = |op: &str| samples.iter().filter(|s| s.op == op).count();
    eprintln!(
        "{} requests: {} authorize, {} role changes, {} activity changes; {} answered 503",
        samples.len(),
        samples.iter().filter(|s| s.op.starts_with("authorize")).count(),
        count("user-role"),
        count("user-activity"),
        samples.iter().filter(|s| s.is_well_formed_503()).count()
    );

    // Nothing half-applied, read through the API.
    let mut trails: std::collections::HashMap<u64, Vec<Change>> = std::collections::HashMap::new();
    let boss_id = app.call(http::Method::GET, "/api/auth/me", Auth::Bearer(&boss), None).await.json()["id"]
        .as_u64()
        .expect("boss id");
    for actor in [boss_id, boss2_id] {
        let events = all_pages(&app, &format!("/api/admin/audit?actor_id={actor}"), &boss).await;
        for e in events {
            let action = e["action"].as_str().unwrap_or_default();
            if !matches!(action, "user.role_change" | "user.deactivate" | "user.activate") || e["outcome"] != "success"
            {
                continue;
            }
            let target = e["target"].as_str().expect("a target");
            let id: u64 =
                target.trim_start_matches("user:").split(' ').next().and_then(|i| i.parse().ok()).expect("id");
            let (mut role, mut active, mut version) = (None, None, None);
            for part in e["detail"].as_str().expect("a detail").split("; ") {
                if let Some(change) = part.strip_prefix("role ") {
                    role = change.rsplit(" → ").next().map(str::to_owned);
                } else if let Some(change) = part.strip_prefix("active ") {
                    active = change.rsplit(" → ").next().map(|a| a == "true");
                } else if let Some(v) = part.strip_prefix('v') {
                    version = v.parse().ok();
                }
            }
            trails.entry(id).or_default().push((version.expect("a version in the detail"), role, active));
        }
    }
    let stored = Snapshot::read(&app.state.stores).await.expect("stores readable after the run");
    let versions: std::collections::HashMap<u64, u64> = stored
        .identity
        .iter()
        .filter(|i| shared::db::item::get_s(i, "sk").ok().as_deref() == Some("USER"))
        .map(|i| (get_n(i, "id").expect("id"), get_n(i, "version").expect("version")))
        .collect();
    let mut changes = 0;
    let changed: Vec<(u64, Vec<(String, bool)>)> =
        changed.iter().flat_map(|c| std::mem::take(&mut *c.lock().expect("changed lock"))).collect();
    for (id, acked) in &changed {
        let mut trail = trails.remove(id).unwrap_or_default();
        trail.sort_by_key(|(v, _, _)| *v);
        let stored_version = versions[id];
        let from = stored_version + 1 - u64::try_from(trail.len()).expect("len");
        let listed: Vec<u64> = trail.iter().map(|(v, _, _)| *v).collect();
        assert_eq!(listed, (from..=stored_version).collect::<Vec<_>>(), "user {id}: one event per version");
        // Replay the trail from the state the user was created in.
        let mut state = ("user".to_owned(), true);
        let mut states = Vec::new();
        for (_, role, active) in &trail {
            if let Some(role) = role {
                state.0.clone_from(role);
            }
            if let Some(active) = active {
                state.1 = *active;
            }
            states.push(state.clone());
        }
        let shown = app.call(http::Method::GET, &format!("/api/auth/users/{id}"), Auth::Bearer(&boss), None).await;
        shown.assert_status(http::StatusCode::OK);
        let shown = shown.json();
        let shown = (shown["role"].as_str().expect("role").to_owned(), shown["is_active"] == true);
        assert_eq!(shown, state, "user {id}: as shown vs its audit trail's last change");
        // Every acknowledged change is in the trail, in order.
        let mut rest = states.iter();
        for ack in acked {
            assert!(rest.any(|s| s == ack), "user {id}: acknowledged change to {ack:?} missing from its trail");
        }
        changes += trail.len();
    }
    eprintln!("{changes} user changes in the audit trail, each matching the users as stored and shown");
    assert!(changes > 0, "no user change was made");

    // The counters as served match the users list.
    let users = all_pages(&app, "/api/auth/users", &boss).await;
    let stats = app.call(http::Method::GET, "/api/admin/stats", Auth::Bearer(&boss), None).await;
    stats.assert_status(http::StatusCode::OK);
    let stats = stats.json();
    let served = |v: &serde_json::Value| usize::try_from(v.as_u64().unwrap_or(0)).expect("a count");
    let active_admins = users.iter().filter(|u| u["role"] == "admin" && u["is_active"] == true).count();
    assert_eq!(served(&stats["users"]["active_admins"]), active_admins, "active admins: {stats}");
    assert_eq!(served(&stats["users"]["total"]), users.len(), "users: {stats}");
    for role in ["viewer", "user", "operator", "admin"] {
        let holding = users.iter().filter(|u| u["role"] == role).count();
        assert_eq!(served(&stats["users"]["by_role"][role]), holding, "{role}s: {stats}");
    }
    // And straight from DynamoDB: each user with its reservation, the counters exact.
    stored.consistent_users();
}
