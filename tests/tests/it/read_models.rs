//! The Redis read models behind `/api/authorize` and the approval badge
//! (shared/src/read_model.rs): warm answers cost one Redis round trip, and no
//! answer is ever staler than the last acknowledged write, on any instance,
//! under concurrent writes and reads.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp, TestResponse};
use serde_json::json;
use shared::read_model::Read;

async fn ask(app: &TestApp, token: &str, vps: &str) -> TestResponse {
    let body = json!({"resource": format!("vps:{vps}"), "action": "connect"});
    app.call(Method::POST, "/api/authorize", Auth::Bearer(token), Some(&body)).await
}

/// The store round trips of one authorize call.
async fn ask_cost(app: &TestApp, token: &str, vps: &str) -> (StatusCode, u64, u64) {
    let before = app.state.stores.io.snapshot();
    let status = ask(app, token, vps).await.status;
    let io = app.state.stores.io.snapshot() - before;
    (status, io.redis_round_trips, io.dynamo_calls)
}

struct World {
    app: TestApp,
    admin: String,
    op: String,
}

async fn world() -> World {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "oper", "operator").await;
    let op = app.login("oper").await;
    World { app, admin, op }
}

impl World {
    async fn vps(&self) -> String {
        self.app.submit_task(Auth::Bearer(&self.op), &json!({"task_type": "vps", "command": "ssh-ed25519 A"})).await
    }

    async fn assign(&self, vps: &str, who: u64) {
        let body = json!({"user_ids": [who]});
        let path = format!("/api/vps/{vps}/assign");
        self.app.call(Method::POST, &path, Auth::Bearer(&self.op), Some(&body)).await.assert_status(StatusCode::OK);
    }

    async fn unassign(&self, vps: &str, who: u64) {
        let path = format!("/api/vps/{vps}/assign/{who}");
        self.app.call(Method::DELETE, &path, Auth::Bearer(&self.op), None).await.assert_status(StatusCode::OK);
    }

    /// Makes sure `who` is (or is not) assigned, whatever they were.
    async fn set_assigned(&self, vps: &str, who: u64, assigned: bool) {
        if assigned {
            self.assign(vps, who).await;
        } else {
            let path = format!("/api/vps/{vps}/assign/{who}");
            let status = self.app.call(Method::DELETE, &path, Auth::Bearer(&self.op), None).await.status;
            assert!(status == StatusCode::OK || status == StatusCode::NOT_FOUND, "{status}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_follows_every_change_at_once_and_is_warm_again_after() {
    let w = world().await;
    let other = w.app.another_instance().await;
    let member = w.app.create_user(&w.admin, "member", "user").await;
    let token = w.app.login("member").await;
    let gid = w.app.create_group(Auth::Bearer(&w.admin), "gpu").await;
    w.app.add_member(Auth::Bearer(&w.admin), gid, member).await;
    let vps = w.vps().await;

    // Unassigned: refused; the refusal is audited (a DynamoDB write), so only
    // allowed answers are compared by cost below.
    assert_eq!(ask(&other, &token, &vps).await.status, StatusCode::FORBIDDEN);
    let by_group = json!({"group_ids": [gid]});
    let path = format!("/api/vps/{vps}/assign");
    w.app.call(Method::POST, &path, Auth::Bearer(&w.op), Some(&by_group)).await.assert_status(StatusCode::OK);
    // The first answer after a change reads DynamoDB once and fills (a second
    // round trip); the next is warm.
    assert_eq!(ask_cost(&other, &token, &vps).await, (StatusCode::OK, 2, 1));
    assert_eq!(ask_cost(&other, &token, &vps).await, (StatusCode::OK, 1, 0));

    // Leaving the group (the user's cached state) ends it at once, everywhere.
    let leave = format!("/api/auth/groups/{gid}/members/{member}");
    w.app.call(Method::DELETE, &leave, Auth::Bearer(&w.admin), None).await.assert_status(StatusCode::OK);
    assert_eq!(ask(&other, &token, &vps).await.status, StatusCode::FORBIDDEN);

    // A direct assignment, then its removal.
    w.assign(&vps, member).await;
    assert_eq!(ask(&other, &token, &vps).await.status, StatusCode::OK);
    assert_eq!(ask_cost(&other, &token, &vps).await, (StatusCode::OK, 1, 0));
    w.unassign(&vps, member).await;
    assert_eq!(ask(&other, &token, &vps).await.status, StatusCode::FORBIDDEN);

    // The VPS ending (a status change) ends it too.
    w.assign(&vps, member).await;
    assert_eq!(ask_cost(&other, &token, &vps).await.0, StatusCode::OK);
    assert_eq!(ask_cost(&other, &token, &vps).await, (StatusCode::OK, 1, 0));
    let report = |status: &'static str| {
        let (app, op, path) = (&w.app, &w.op, format!("/api/tasks/{vps}/status"));
        async move { app.call(Method::POST, &path, Auth::Bearer(op), Some(&json!({"status": status}))).await }
    };
    report("running").await.assert_status(StatusCode::OK);
    assert_eq!(ask(&other, &token, &vps).await.status, StatusCode::OK);
    report("stopped").await.assert_status(StatusCode::OK);
    assert_eq!(ask(&other, &token, &vps).await.status, StatusCode::FORBIDDEN);

    // An API token carries the grants in its one round trip as well.
    let live = w.vps().await;
    w.assign(&live, member).await;
    let (api_token, _) = w.app.create_token(&token, "gateway").await;
    assert_eq!(ask(&other, &api_token, &live).await.status, StatusCode::OK);
    assert_eq!(ask_cost(&other, &api_token, &live).await, (StatusCode::OK, 1, 0));
}

/// Each trial: a user is assigned and their grant cached; then an unassignment
/// races a stream of authorize calls on two instances (with the cache dropped
/// first, so readers refill it while the write is in flight). No call that
/// starts after the unassignment was acknowledged may be allowed, and
/// afterwards every instance refuses. The same for an assignment: no call
/// that starts after it was acknowledged may be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_answer_is_older_than_an_acknowledged_change_under_concurrency() {
    let w = Arc::new(world().await);
    let instances = Arc::new([w.app.another_instance().await, w.app.another_instance().await]);
    let member = w.app.create_user(&w.admin, "member", "user").await;
    let token = Arc::new(w.app.login("member").await);
    let vps = Arc::new(w.vps().await);
    const TRIALS: usize = 30;
    for trial in 0..TRIALS {
        let assigning = trial % 2 == 0;
        // Start from the opposite state, cached.
        w.set_assigned(&vps, member, !assigning).await;
        ask(&instances[0], &token, &vps).await;
        // An empty write through the fence drops the cached grants.
        let redis = &w.app.state.stores.redis;
        let model = shared::vps::access::model(redis, vps.parse().expect("id"));
        model.around(redis, async { Ok::<_, shared::db::StoreError>(()) }).await.expect("drop the entry");

        let done = Arc::new(tokio::sync::Notify::new());
        let acked: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
        let mut readers = Vec::new();
        for r in 0..4 {
            let (instances, token) = (Arc::clone(&instances), Arc::clone(&token));
            let (vps, acked, done) = (Arc::clone(&vps), Arc::clone(&acked), Arc::clone(&done));
            readers.push(tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let started = Instant::now();
                    let status = ask(&instances[r % 2], &token, &vps).await.status;
                    seen.push((started, status));
                    let finished = acked.lock().expect("lock").is_some_and(|at| started > at);
                    if finished {
                        return seen;
                    }
                    tokio::select! {
                        () = done.notified() => {}
                        () = tokio::task::yield_now() => {}
                    }
                }
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        if assigning {
            w.assign(&vps, member).await;
        } else {
            w.unassign(&vps, member).await;
        }
        let at = Instant::now();
        *acked.lock().expect("lock") = Some(at);
        done.notify_waiters();
        let expected = if assigning { StatusCode::OK } else { StatusCode::FORBIDDEN };
        for reader in readers {
            for (started, status) in reader.await.expect("reader") {
                if started > at {
                    assert_eq!(status, expected, "trial {trial}: an answer after the change was acknowledged");
                }
            }
        }
        for instance in instances.iter() {
            for _ in 0..3 {
                assert_eq!(ask(instance, &token, &vps).await.status, expected, "trial {trial}: settled");
            }
        }
    }
}

/// The lease itself: a reader that missed before a write began or ended
/// cannot fill its (possibly old) state; while a writer is in flight nobody
/// fills; once it closed, the next miss fills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_from_before_a_write_never_lands() {
    let app = TestApp::start().await;
    let redis = &app.state.stores.redis;
    let model = shared::read_model::Model::new(redis, "probe", "probe1");
    let Read::Miss { generation } = model.read::<u64>(redis).await.expect("read") else { panic!("empty at first") };
    model.around(redis, async { Ok::<_, shared::db::StoreError>(()) }).await.expect("write");
    model.fill(redis, &1u64, &generation).await;
    assert!(matches!(model.read::<u64>(redis).await.expect("read"), Read::Miss { .. }), "a stale fill landed");

    // A writer in flight: a miss read meanwhile cannot fill either.
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let writer = {
        let (redis, model) = (redis.clone(), shared::read_model::Model::new(redis, "probe", "probe1"));
        tokio::spawn(async move {
            model
                .around(&redis, async {
                    held.await.ok();
                    Ok::<_, shared::db::StoreError>(())
                })
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let Read::Miss { generation } = model.read::<u64>(redis).await.expect("read") else { panic!("dropped") };
    model.fill(redis, &2u64, &generation).await;
    assert!(matches!(model.read::<u64>(redis).await.expect("read"), Read::Miss { .. }), "filled during a write");
    release.send(()).expect("writer waits");
    writer.await.expect("writer").expect("write");

    // Settled: a miss now fills, and the next read hits.
    let Read::Miss { generation } = model.read::<u64>(redis).await.expect("read") else { panic!("dropped") };
    model.fill(redis, &3u64, &generation).await;
    assert!(matches!(model.read::<u64>(redis).await.expect("read"), Read::Hit(3)));

    // A write whose outcome is unknown keeps the fence up: no fill until it expires.
    let failed = model
        .around(redis, async { Err::<(), _>(shared::db::StoreError::Internal(anyhow::anyhow!("timed out"))) })
        .await;
    assert!(failed.is_err());
    let Read::Miss { generation } = model.read::<u64>(redis).await.expect("read") else { panic!("dropped") };
    model.fill(redis, &4u64, &generation).await;
    assert!(matches!(model.read::<u64>(redis).await.expect("read"), Read::Miss { .. }), "filled under a failed write");
}

async fn count(app: &TestApp, op: &str) -> u64 {
    let r = app.call(Method::GET, "/api/tasks/pending-approval/count", Auth::Bearer(op), None).await;
    r.assert_status(StatusCode::OK);
    r.json()["count"].as_u64().expect("count")
}

/// Concurrent submissions and approvals on two instances: every badge read
/// after all of them were acknowledged equals the list's length, warm at one
/// Redis round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_badge_matches_the_list_after_concurrent_changes() {
    let w = world().await;
    let other = w.app.another_instance().await;
    w.app.create_user(&w.admin, "member", "user").await;
    let member = w.app.login("member").await;
    assert_eq!(count(&other, &w.op).await, 0);
    let mut ids = Vec::new();
    for round in 0..3 {
        // Eight submissions at once, half through each instance, while the badge is read.
        let submits = (0..8).map(|i| {
            let app = if i % 2 == 0 { &w.app } else { &other };
            let body = json!({"command": format!("r{round}-{i}")});
            let member = &member;
            async move { app.call(Method::POST, "/api/tasks", Auth::Bearer(member), Some(&body)).await }
        });
        let (submitted, _, _) =
            tokio::join!(futures::future::join_all(submits), count(&other, &w.op), count(&w.app, &w.op));
        for response in submitted {
            ids.push(krv_tests::task_id(&response));
        }
        // Approve two at once, read as they go.
        let approvals = ids.drain(..2).collect::<Vec<_>>();
        let approve = approvals.iter().map(|id| {
            let (app, op, path) = (&w.app, &w.op, format!("/api/approve/{id}"));
            async move { app.call(Method::POST, &path, Auth::Bearer(op), None).await }
        });
        let (approved, _) = tokio::join!(futures::future::join_all(approve), count(&other, &w.op));
        for response in approved {
            response.assert_status(StatusCode::OK);
        }
        let listed = other.call(Method::GET, "/api/tasks/pending-approval", Auth::Bearer(&w.op), None).await.json();
        let listed = listed.as_array().map_or(0, Vec::len) as u64;
        assert_eq!(listed, ids.len() as u64);
        for app in [&w.app, &other] {
            assert_eq!(count(app, &w.op).await, listed, "round {round}");
        }
    }
    let before = other.state.stores.io.snapshot();
    count(&other, &w.op).await;
    let io = other.state.stores.io.snapshot() - before;
    assert_eq!((io.redis_round_trips, io.dynamo_calls), (1, 0), "the warm badge");
}
