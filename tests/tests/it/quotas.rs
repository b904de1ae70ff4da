//! Quotas (docs/tasks.md): hard limits refused at submission, auto-approval
//! within the remaining quota, waiting and 409 beyond it, the per-user
//! override, and the usage counters under concurrency: of racing submissions
//! exactly the quota's worth gets through, and every end returns its share
//! exactly once.

use axum::http::StatusCode;
use http::Method;
use krv_tests::{Auth, SYSTEM, TestApp, TestUser, task_id};
use serde_json::{Value, json};
use shared::db::item::{get_s, opt_n};

/// The raw counters of a quota item (`group` or `user`), straight from
/// DynamoDB, unclamped, so a counter gone negative would show.
async fn raw_usage(app: &TestApp, holder: &str, id: u64) -> [i64; 5] {
    let pk = format!("QUOTA#{}#{id}", holder.to_uppercase());
    let items = app.scan(&app.state.stores.tables.tasks).await;
    let item = items.iter().find(|i| get_s(i, "pk").ok().as_deref() == Some(pk.as_str()));
    let used = |name: &str| item.and_then(|i| opt_n::<i64>(i, name)).unwrap_or(0);
    ["used_active_tasks", "used_cores", "used_gpus", "used_memory_bytes", "used_vps"].map(used)
}

async fn set_group_quota(app: &TestApp, group: u64, body: Value) {
    let path = format!("/api/auth/groups/{group}/quota");
    app.call(Method::PUT, &path, SYSTEM, Some(&body)).await.assert_status(StatusCode::OK);
}

async fn usage(app: &TestApp, auth: Auth<'_>, group: u64) -> Value {
    let response = app.call(Method::GET, &format!("/api/auth/groups/{group}/usage"), auth, None).await;
    response.assert_status(StatusCode::OK);
    response.json()
}

async fn status_of(app: &TestApp, id: &str) -> String {
    let task = app.call(Method::GET, &format!("/api/tasks/{id}"), SYSTEM, None).await.json();
    task["status"].as_str().expect("status").to_owned()
}

async fn report(app: &TestApp, auth: Auth<'_>, id: &str, status: &str) -> StatusCode {
    let body = json!({"status": status});
    app.call(Method::POST, &format!("/api/tasks/{id}/status"), auth, Some(&body)).await.status
}

/// A group `name` with `members` (role user), and an operator outside it.
async fn team(app: &TestApp, name: &str, members: &[&str]) -> (u64, Vec<TestUser>, TestUser) {
    let group = app.create_group(SYSTEM, name).await;
    let mut users = Vec::new();
    for member in members {
        users.push(app.with_user_in_group(member, "user", group).await);
    }
    let operator = app.with_user(&format!("{name}-op"), "operator").await;
    (group, users, operator)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_a_hard_limit_is_refused_naming_it_and_usage_is_for_members() {
    let app = TestApp::start().await;
    let (group, users, operator) = team(&app, "lab", &["alice"]).await;
    let outsider = app.with_user("bob", "user").await;
    set_group_quota(&app, group, json!({"max_cores": 4, "max_memory_bytes": 1000})).await;

    let over = app.submit(users[0].auth(), &json!({"command": "x", "required_cores": 8})).await;
    over.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = over.json()["detail"].as_str().expect("detail").to_owned();
    assert!(detail.contains("max_cores") && detail.contains(&format!("group {group}")), "{detail}");
    let memory = app.submit(users[0].auth(), &json!({"command": "x", "required_memory_bytes": 1001})).await;
    memory.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(memory.json()["detail"].as_str().is_some_and(|d| d.contains("max_memory_bytes")));
    // Within the limit: waits for approval (no auto-approval), counted against the group.
    let fits = app.submit(users[0].auth(), &json!({"command": "x", "required_cores": 4})).await;
    fits.assert_status(StatusCode::ACCEPTED);
    assert_eq!(fits.json()["status"], "pending_approval");
    let task = app.call(Method::GET, &format!("/api/tasks/{}", task_id(&fits)), users[0].auth(), None).await.json();
    assert_eq!(task["group_id"], group);

    let seen = usage(&app, users[0].auth(), group).await;
    assert_eq!((seen["limits"]["max_cores"].as_u64(), seen["limits"]["max_gpus"].as_u64()), (Some(4), None));
    assert_eq!(seen["usage"]["active_tasks"], 0, "a task waiting for approval holds nothing");
    usage(&app, operator.auth(), group).await;
    let path = format!("/api/auth/groups/{group}/usage");
    app.call(Method::GET, &path, outsider.auth(), None).await.assert_status(StatusCode::FORBIDDEN);
    app.call(Method::GET, "/api/auth/groups/999999/usage", operator.auth(), None)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    // Only admins set quotas; the body is checked.
    let quota = format!("/api/auth/groups/{group}/quota");
    let body = json!({"max_cores": 1});
    app.call(Method::PUT, &quota, operator.auth(), Some(&body)).await.assert_status(StatusCode::FORBIDDEN);
    let bad = json!({"max_cores": -1});
    app.call(Method::PUT, &quota, SYSTEM, Some(&bad)).await.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = json!({"max_bananas": 1});
    app.call(Method::PUT, &quota, SYSTEM, Some(&unknown)).await.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    app.call(Method::PUT, "/api/auth/groups/999999/quota", SYSTEM, Some(&body))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_approval_within_the_quota_waiting_beyond_it_and_409_on_approval_over_it() {
    let app = TestApp::start().await;
    let (group, users, operator) = team(&app, "ml", &["alice"]).await;
    let alice = &users[0];
    set_group_quota(&app, group, json!({"max_active_tasks": 2, "max_gpus": 3, "auto_approve": true})).await;

    let gpu = |n: u32| json!({"command": "train", "targets": ["node1"], "required_gpus": [(0..n).collect::<Vec<_>>()]});
    let first = app.submit(alice.auth(), &gpu(2)).await;
    assert_eq!(first.json()["status"], "assigning", "fits: approved by the policy");
    let task = app.call(Method::GET, &format!("/api/tasks/{}", task_id(&first)), alice.auth(), None).await.json();
    assert_eq!(
        (task["approval_status"].as_str(), task["approved_by_username"].as_str()),
        (Some("approved"), Some("_policy"))
    );
    let audit = app.call(Method::GET, "/api/admin/audit?action=task.approve", SYSTEM, None).await.json();
    let events = audit.as_array().expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!((events[0]["actor"].as_str(), events[0]["reason"].as_str()), (Some("_policy"), Some("auto_approve")));

    // Two more GPUs do not fit the one left: it waits, and says why.
    let waiting = app.submit(alice.auth(), &gpu(2)).await;
    assert_eq!(waiting.json()["status"], "pending_approval");
    let waiting = task_id(&waiting);
    let record =
        shared::tasks::get(&app.state.stores, waiting.parse().expect("id")).await.expect("read").expect("task");
    let exceeded = shared::quotas::exceeded_for(&app.state.stores, std::slice::from_ref(&record)).await.expect("read");
    assert_eq!(exceeded.get(&record.id).map(|e| e.limit_name()), Some("max_gpus"));
    // The approval queue says so too.
    let queue = app.call(Method::GET, "/api/tasks/pending-approval", operator.auth(), None).await.json();
    let entry = queue.as_array().expect("queue").iter().find(|t| t["task_id"] == waiting.as_str()).cloned();
    let said = entry.as_ref().and_then(|t| t["quota_exceeded"].as_str()).unwrap_or_default().to_owned();
    assert!(said.contains("max_gpus"), "{queue}");
    // One GPU fits.
    let second = app.submit(alice.auth(), &gpu(1)).await;
    assert_eq!(second.json()["status"], "assigning");
    // Now the active tasks are full too.
    let third = app.submit(alice.auth(), &json!({"command": "small"})).await;
    assert_eq!(third.json()["status"], "pending_approval");

    let approve = app.call(Method::POST, &format!("/api/approve/{waiting}"), operator.auth(), None).await;
    approve.assert_status(StatusCode::CONFLICT);
    assert_eq!(approve.json()["code"], "quota_exceeded", "{:?}", approve.json());
    assert!(approve.json()["detail"].as_str().is_some_and(|d| d.contains("max_active_tasks")), "{:?}", approve.json());
    assert_eq!(status_of(&app, &waiting).await, "pending_approval", "it keeps waiting");

    // The first ends: its share returns, and the waiting task can be approved.
    assert_eq!(report(&app, operator.auth(), &task_id(&first), "running").await, StatusCode::OK);
    assert_eq!(report(&app, operator.auth(), &task_id(&first), "completed").await, StatusCode::OK);
    let seen = usage(&app, alice.auth(), group).await;
    assert_eq!((seen["usage"]["active_tasks"].as_u64(), seen["usage"]["gpus"].as_u64()), (Some(1), Some(1)));
    let approve = app.call(Method::POST, &format!("/api/approve/{waiting}"), operator.auth(), None).await;
    approve.assert_status(StatusCode::OK);
    assert_eq!(raw_usage(&app, "group", group).await[..3], [2, 2, 3], "two tasks, two cores, three GPUs");
    assert_eq!(raw_usage(&app, "user", alice.id).await[..3], [2, 2, 3], "the owner's counters move with the group's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_return_exactly_once_across_finish_cancel_reject_and_end() {
    let app = TestApp::start().await;
    let (group, users, operator) = team(&app, "ops", &["alice"]).await;
    let alice = &users[0];
    set_group_quota(&app, group, json!({"max_cores": 100})).await;
    let submit = |cores: u32| json!({"command": "job", "required_cores": cores, "required_memory_bytes": 1000});
    let approve = |id: String| {
        let (app, operator) = (&app, &operator);
        async move {
            let path = format!("/api/approve/{id}");
            app.call(Method::POST, &path, operator.auth(), None).await.assert_status(StatusCode::OK);
            id
        }
    };
    let finished = approve(app.submit_task(alice.auth(), &submit(2)).await).await;
    let killed = approve(app.submit_task(alice.auth(), &submit(3)).await).await;
    let lost = approve(app.submit_task(alice.auth(), &submit(5)).await).await;
    let cancelled = app.submit_task(alice.auth(), &submit(7)).await;
    let rejected = app.submit_task(alice.auth(), &submit(11)).await;
    let vps =
        approve(app.submit_task(alice.auth(), &json!({"task_type": "vps", "command": "ssh-ed25519 A"})).await).await;
    assert_eq!(raw_usage(&app, "group", group).await, [4, 11, 0, 3000, 1]);

    let cancel = format!("/api/tasks/{cancelled}/cancel");
    app.call(Method::POST, &cancel, alice.auth(), None).await.assert_status(StatusCode::OK);
    let reject = format!("/api/reject/{rejected}");
    app.call(Method::POST, &reject, operator.auth(), None).await.assert_status(StatusCode::OK);
    assert_eq!(raw_usage(&app, "group", group).await, [4, 11, 0, 3000, 1], "never counted, nothing returned");

    let op = operator.auth();
    assert_eq!(report(&app, op, &finished, "running").await, StatusCode::OK);
    assert_eq!(report(&app, op, &finished, "completed").await, StatusCode::OK);
    assert_eq!(report(&app, op, &finished, "completed").await, StatusCode::CONFLICT);
    assert_eq!(raw_usage(&app, "group", group).await, [3, 9, 0, 2000, 1]);
    assert_eq!(report(&app, op, &killed, "killed").await, StatusCode::OK);
    assert_eq!(report(&app, op, &killed, "failed").await, StatusCode::CONFLICT);
    assert_eq!(report(&app, op, &lost, "pending").await, StatusCode::OK);
    assert_eq!(report(&app, op, &lost, "lost").await, StatusCode::OK);
    assert_eq!(report(&app, op, &vps, "running").await, StatusCode::OK);
    assert_eq!(report(&app, op, &vps, "paused").await, StatusCode::OK);
    assert_eq!(raw_usage(&app, "group", group).await, [1, 1, 0, 0, 1], "pausing keeps the share");
    assert_eq!(report(&app, op, &vps, "stopped").await, StatusCode::OK);
    assert_eq!(raw_usage(&app, "group", group).await, [0; 5]);
    assert_eq!(raw_usage(&app, "user", alice.id).await, [0; 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_submissions_take_exactly_the_quota_and_racing_ends_return_it_once() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let (group, users, operator) = team(&app, "race", &["alice", "bob"]).await;
    set_group_quota(&app, group, json!({"max_active_tasks": 3, "auto_approve": true})).await;
    let calls = (0..10).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        let user = &users[i % 2];
        async move { instance.submit(user.auth(), &json!({"command": format!("job {i}")})).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.status == StatusCode::ACCEPTED));
    let assigning: Vec<String> = results.iter().filter(|r| r.json()["status"] == "assigning").map(task_id).collect();
    assert_eq!(assigning.len(), 3, "{:?}", results.iter().map(|r| r.json()["status"].clone()).collect::<Vec<_>>());
    assert_eq!(raw_usage(&app, "group", group).await[0], 3);
    let per_user = raw_usage(&app, "user", users[0].id).await[0] + raw_usage(&app, "user", users[1].id).await[0];
    assert_eq!(per_user, 3);

    // Each assigning task ends, reported three times over from both instances at once.
    let (first, second, operator) = (&app, &other, &operator);
    let reports = assigning.iter().flat_map(|id| {
        (0..3).map(move |i| {
            let instance = if i % 2 == 0 { first } else { second };
            async move { report(instance, operator.auth(), id, "failed").await }
        })
    });
    let outcomes = futures::future::join_all(reports).await;
    let ok = outcomes.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 3, "{outcomes:?}");
    assert!(outcomes.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT), "{outcomes:?}");
    assert_eq!(raw_usage(&app, "group", group).await, [0; 5], "returned exactly once, never below zero");
    assert_eq!(raw_usage(&app, "user", users[0].id).await, [0; 5]);
    assert_eq!(raw_usage(&app, "user", users[1].id).await, [0; 5]);

    // The quota is free again: the next submission is approved by the policy.
    let next = app.submit(users[0].auth(), &json!({"command": "after"})).await;
    assert_eq!(next.json()["status"], "assigning");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_own_limit_overrides_the_groups_and_the_group_must_be_named_when_ambiguous() {
    let app = TestApp::start().await;
    let (group, users, _operator) = team(&app, "hpc", &["alice", "bob"]).await;
    let (alice, bob) = (&users[0], &users[1]);
    set_group_quota(&app, group, json!({"max_cores": 2, "auto_approve": true})).await;
    let quota = format!("/api/auth/users/{}/quota", alice.id);
    let set = app.call(Method::PUT, &quota, SYSTEM, Some(&json!({"max_cores": 8}))).await;
    set.assert_status(StatusCode::OK);
    assert_eq!(set.json()["limits"]["max_cores"], 8);
    let read = app.call(Method::GET, &quota, SYSTEM, None).await;
    read.assert_status(StatusCode::OK);
    assert_eq!(
        (read.json()["limits"]["max_cores"].as_u64(), read.json()["limits"]["max_gpus"].as_u64()),
        (Some(8), None)
    );
    app.call(Method::GET, &quota, alice.auth(), None).await.assert_status(StatusCode::FORBIDDEN);
    app.call(Method::PUT, "/api/auth/users/999999/quota", SYSTEM, Some(&json!({})))
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let big = json!({"command": "x", "required_cores": 6});
    let own = app.submit(alice.auth(), &big).await;
    assert_eq!(own.json()["status"], "assigning", "alice's own 8 cores apply, not the group's 2");
    let refused = app.submit(bob.auth(), &big).await;
    refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.json()["detail"].as_str().is_some_and(|d| d.contains("max_cores")));
    // Alice's share still counts in the group's usage; bob's 2 cores are measured against it.
    assert_eq!(raw_usage(&app, "group", group).await[1], 6);
    let small = app.submit(bob.auth(), &json!({"command": "x", "required_cores": 2})).await;
    assert_eq!(small.json()["status"], "pending_approval", "the group's 2 cores are taken");
    // The user may also switch auto-approval off for themselves.
    app.call(Method::PUT, &quota, SYSTEM, Some(&json!({"max_cores": 8, "auto_approve": false})))
        .await
        .assert_status(StatusCode::OK);
    let waits = app.submit(alice.auth(), &json!({"command": "x", "required_cores": 1})).await;
    assert_eq!(waits.json()["status"], "pending_approval");

    // Alice joins a second group: with a quota in play she must name one.
    let second = app.create_group(SYSTEM, "second").await;
    app.add_member(SYSTEM, second, alice.id).await;
    let unnamed = app.submit(alice.auth(), &json!({"command": "x"})).await;
    unnamed.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unnamed.json()["detail"].as_str().is_some_and(|d| d.starts_with("group_id")));
    let named = app.submit(alice.auth(), &json!({"command": "x", "group_id": second})).await;
    named.assert_status(StatusCode::ACCEPTED);
    let task = app.call(Method::GET, &format!("/api/tasks/{}", task_id(&named)), alice.auth(), None).await.json();
    assert_eq!(task["group_id"], second);
    let elsewhere = app.submit(bob.auth(), &json!({"command": "x", "group_id": second})).await;
    elsewhere.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(elsewhere.json()["detail"].as_str().is_some_and(|d| d.contains("not a member")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_computed_from_a_stale_read_loses_on_its_condition() {
    use shared::auth::ClientInfo;
    use shared::quotas::Snapshot;
    use shared::tasks::{self, CreateError, NewTasks, Owner, TaskStatus, TaskSubmission};

    let app = TestApp::start().await;
    let (group, users, _operator) = team(&app, "stale", &["alice"]).await;
    let alice = &users[0];
    set_group_quota(&app, group, json!({"max_active_tasks": 1, "auto_approve": true})).await;
    let stores = &app.state.stores;
    let client = ClientInfo { addr: "127.0.0.1".to_owned(), user_agent: String::new(), request_id: None };
    let attempt = |snapshot: Snapshot| {
        let submission: TaskSubmission = serde_json::from_value(json!({"command": "late"})).expect("submission");
        let owner = Owner { id: Some(alice.id), username: alice.name.clone() };
        let specs = submission.into_specs().expect("specs");
        let new = NewTasks { specs, owner, group_id: Some(group), status: TaskStatus::Assigning, approved: None };
        let client = &client;
        async move {
            tasks::create(stores, new, &snapshot, |_| {
                vec![client.event(("_system".to_owned(), None), "task.submit", shared::audit::Outcome::Success)]
            })
            .await
        }
    };

    // Read while the last unit is free; someone else takes it meanwhile.
    let stale = Snapshot::read(stores, Some(group), Some(alice.id)).await.expect("read");
    assert_eq!(app.submit(alice.auth(), &json!({"command": "first"})).await.json()["status"], "assigning");
    assert!(matches!(attempt(stale).await, Err(CreateError::QuotaChanged)), "the condition referees the race");
    assert_eq!(raw_usage(&app, "group", group).await[0], 1);

    // Limits changed after the read: the charge is refused even though it would fit now.
    let before_change = Snapshot::read(stores, Some(group), Some(alice.id)).await.expect("read");
    set_group_quota(&app, group, json!({"max_active_tasks": 5, "auto_approve": true})).await;
    assert!(matches!(attempt(before_change).await, Err(CreateError::QuotaChanged)));
    let fresh = Snapshot::read(stores, Some(group), Some(alice.id)).await.expect("read");
    assert!(attempt(fresh).await.is_ok());
    assert_eq!(raw_usage(&app, "group", group).await[0], 2);
}

/// Runs the built `kohakuriver` binary against `url` with its own config in `home`.
async fn cli(url: &str, home: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut command = std::process::Command::new(krv_tests::bins::binary("kohakuriver"));
    command
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("KOHAKURIVER_HOST", url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let input = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the binary starts");
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(input.as_bytes());
        drop(pipe);
        let output = child.wait_with_output().expect("the binary finishes");
        (
            output.status.code().expect("exited"),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("the blocking task completes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_and_shows_a_groups_quota() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    app.with_admin().await;
    let (group, users, _operator) = team(&app, "cli-lab", &["alice"]).await;
    let (admin_home, alice_home) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    let password = format!("{}\n", krv_tests::PASSWORD);
    let login = ["auth", "login", "--username", "admin", "--password-stdin"];
    assert_eq!(cli(&url, admin_home.path(), &login, &password).await.0, 0);
    let set =
        ["groups", "quota", "set", "cli-lab", "--max-active-tasks", "2", "--max-gpus", "4", "--auto-approve", "true"];
    let (code, out, err) = cli(&url, admin_home.path(), &set, "").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unlimited") && out.contains("auto-approve: true"), "{out}");

    app.submit(users[0].auth(), &json!({"command": "x"})).await.assert_status(StatusCode::ACCEPTED);
    let login = ["auth", "login", "--username", "alice", "--password-stdin"];
    assert_eq!(cli(&url, alice_home.path(), &login, &password).await.0, 0);
    let (code, out, err) = cli(&url, alice_home.path(), &["--json", "groups", "quota", "show", "cli-lab"], "").await;
    assert_eq!(code, 0, "{out}{err}");
    let shown: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(shown["group_id"], group);
    assert_eq!((shown["limits"]["max_active_tasks"].as_u64(), shown["limits"]["max_cores"].as_u64()), (Some(2), None));
    assert_eq!(shown["usage"]["active_tasks"], 1, "alice's task was approved by the policy");
}
