//! What one warm request costs in store round trips, counted by the service's
//! own instrumentation: the targets of BENCHMARKS.md (one Redis round trip and
//! no DynamoDB call to authenticate, to authorize a VPS connection and to read
//! the approval badge).

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp, TestResponse};
use serde_json::json;
use shared::db::io::IoSnapshot;

/// The store round trips of one request.
async fn cost(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<&serde_json::Value>,
) -> (TestResponse, IoSnapshot) {
    let before = app.state.stores.io.snapshot();
    let response = app.call(method, path, auth, body).await;
    (response, app.state.stores.io.snapshot() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(clippy::print_stdout, reason = "the table is copied into BENCHMARKS.md by bench/run")]
async fn warm_requests_cost_what_the_benchmarks_promise() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let member = app.create_user(&admin, "member", "user").await;
    app.create_user(&admin, "oper", "operator").await;
    let operator = app.login("oper").await;
    let session = app.login("member").await;
    let (token, _) = app.create_token(&session, "bench").await;
    let group = app.create_group(Auth::Bearer(&admin), "g").await;
    app.add_member(Auth::Bearer(&admin), group, member).await;
    let vps = app.submit_task(Auth::Bearer(&operator), &json!({"task_type": "vps", "command": "ssh-ed25519 A"})).await;
    app.call(
        Method::POST,
        &format!("/api/vps/{vps}/assign"),
        Auth::Bearer(&operator),
        Some(&json!({"group_ids": [group]})),
    )
    .await;
    let question = json!({"resource": format!("vps:{vps}"), "action": "connect"});
    // A least-privilege token: its scopes and resources travel in its cache entry.
    let scoped_body = json!({"name": "scoped", "scopes": ["vps:connect", "read"], "resources": [format!("vps:{vps}")]});
    let scoped = app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&session), Some(&scoped_body)).await;
    scoped.assert_status(StatusCode::CREATED);
    let scoped = scoped.json()["token"].as_str().expect("secret").to_owned();

    // Warm everything once (cache fills, the once-a-minute activity stamps).
    for auth in [Auth::Cookie(&session), Auth::Bearer(&token), Auth::Bearer(&operator), Auth::Bearer(&scoped)] {
        app.call(Method::GET, "/api/auth/me", auth, None).await.assert_status(StatusCode::OK);
    }
    app.call(Method::POST, "/api/authorize", Auth::Cookie(&session), Some(&question))
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(&operator), None).await;

    let scenarios = [
        ("GET /api/health", cost(&app, Method::GET, "/api/health", Auth::None, None).await, (0, 0)),
        (
            "GET /api/auth/me (session cookie)",
            cost(&app, Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await,
            (1, 0),
        ),
        (
            "GET /api/auth/me (API token)",
            cost(&app, Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await,
            (1, 0),
        ),
        (
            "GET /api/auth/me (scoped, resource-limited API token)",
            cost(&app, Method::GET, "/api/auth/me", Auth::Bearer(&scoped), None).await,
            (1, 0),
        ),
        (
            "POST /api/authorize (scoped, resource-limited API token)",
            cost(&app, Method::POST, "/api/authorize", Auth::Bearer(&scoped), Some(&question)).await,
            (1, 0),
        ),
        (
            "POST /api/authorize (VPS via group)",
            cost(&app, Method::POST, "/api/authorize", Auth::Cookie(&session), Some(&question)).await,
            (1, 0),
        ),
        (
            "GET /api/tasks/pending-approval/count",
            cost(&app, Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(&operator), None).await,
            (1, 0),
        ),
    ];
    println!("| request | Redis round trips | DynamoDB calls |\n|---|---|---|");
    for (name, (response, io), (redis, dynamo)) in &scenarios {
        response.assert_status(StatusCode::OK);
        println!("| {name} | {} | {} |", io.redis_round_trips, io.dynamo_calls);
        assert_eq!((io.redis_round_trips, io.dynamo_calls), (*redis, *dynamo), "{name}");
    }
}

/// `GET /api/vps` reads as often for a page of many VPS as for a page of few:
/// the tasks, then the assignments, the assigned users and the assigned groups
/// of every row in one batch read each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vps_list_reads_as_often_for_many_rows_as_for_few() {
    async fn add_vps(app: &TestApp, operator: &str, users: &[u64], group: u64, count: usize) {
        for n in 0..count {
            let body = json!({"task_type": "vps", "command": "ssh-ed25519 A"});
            let submitted = app.call(Method::POST, "/api/tasks", Auth::Bearer(operator), Some(&body)).await;
            let vps = krv_tests::task_id(&submitted);
            let assign = json!({"user_ids": [users[n % users.len()]], "group_ids": [group]});
            app.call(Method::POST, &format!("/api/vps/{vps}/assign"), Auth::Bearer(operator), Some(&assign))
                .await
                .assert_status(StatusCode::OK);
        }
    }
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "oper", "operator").await;
    let operator = app.login("oper").await;
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol"] {
        users.push(app.create_user(&admin, name, "user").await);
    }
    let group = app.create_group(Auth::Bearer(&admin), "g").await;

    let mut costs = Vec::new();
    for (added, rows) in [(2, 2), (10, 12)] {
        add_vps(&app, &operator, &users, group, added).await;
        app.call(Method::GET, "/api/vps", Auth::Bearer(&operator), None).await.assert_status(StatusCode::OK);
        let (response, io) = cost(&app, Method::GET, "/api/vps", Auth::Bearer(&operator), None).await;
        response.assert_status(StatusCode::OK);
        let listed = response.json();
        let listed = listed.as_array().expect("a list");
        assert_eq!(listed.len(), rows);
        for row in listed {
            assert_eq!(row["assignees"].as_array().map(Vec::len), Some(1), "{row}");
            assert_eq!(row["assigned_groups"].as_array().map(Vec::len), Some(1), "{row}");
        }
        costs.push(io);
    }
    assert_eq!(costs[0], costs[1], "the reads of /api/vps grow with its rows");
    // The caller from the cache; the tasks, the assignments, the users, the groups.
    assert_eq!((costs[1].redis_round_trips, costs[1].dynamo_calls), (1, 4));
}
