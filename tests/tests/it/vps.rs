//! VPS assignment to users and groups, `/api/vps/my`, and `/api/authorize`.

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp, TestResponse};
use serde_json::{Value, json};

struct World {
    app: TestApp,
    admin: String,
    op: String,
}

async fn world() -> World {
    let app = TestApp::start().await;
    let admin = app.with_admin().await.token;
    let op = app.with_user("oper", "operator").await.token;
    World { app, admin, op }
}

impl World {
    async fn vps(&self, token: &str) -> String {
        let body = json!({"task_type": "vps", "command": "ssh-ed25519 AAAA", "name": "box"});
        self.app.submit_task(Auth::Bearer(token), &body).await
    }

    async fn group(&self, name: &str, members: &[u64]) -> u64 {
        let gid = self.app.create_group(Auth::Bearer(&self.admin), name).await;
        for m in members {
            self.app.add_member(Auth::Bearer(&self.admin), gid, *m).await;
        }
        gid
    }

    async fn assign(&self, vps: &str, body: Value) -> TestResponse {
        self.app.call(Method::POST, &format!("/api/vps/{vps}/assign"), Auth::Bearer(&self.op), Some(&body)).await
    }
}

async fn ask(app: &TestApp, token: &str, vps: &str, action: &str) -> TestResponse {
    let body = json!({"resource": format!("vps:{vps}"), "action": action});
    app.call(Method::POST, "/api/authorize", Auth::Bearer(token), Some(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_assignment_grants_connect_until_the_member_leaves_the_group() {
    let w = world().await;
    let other = w.app.another_instance().await;
    let member = w.app.create_user(&w.admin, "member", "user").await;
    w.app.create_user(&w.admin, "outsider", "user").await;
    let member_token = w.app.login("member").await;
    let outsider = w.app.login("outsider").await;
    let gid = w.group("gpu", &[member]).await;
    let vps = w.vps(&w.op).await;
    w.assign(&vps, json!({"group_ids": [gid]})).await.assert_status(StatusCode::OK);

    let yes = ask(&other, &member_token, &vps, "connect").await;
    yes.assert_status(StatusCode::OK);
    assert_eq!(yes.json(), json!({"allowed": true, "user": "member", "user_id": member, "role": "user"}));
    ask(&other, &outsider, &vps, "connect").await.assert_error(StatusCode::FORBIDDEN, "not_allowed");
    ask(&other, &member_token, &vps, "manage").await.assert_error(StatusCode::FORBIDDEN, "not_allowed");

    w.app
        .call(Method::DELETE, &format!("/api/auth/groups/{gid}/members/{member}"), Auth::Bearer(&w.admin), None)
        .await
        .assert_status(StatusCode::OK);
    ask(&other, &member_token, &vps, "connect").await.assert_error(StatusCode::FORBIDDEN, "not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_assignees_and_operators_connect_operators_manage() {
    let w = world().await;
    let alice = w.app.create_user(&w.admin, "alice", "user").await;
    w.app.create_user(&w.admin, "bob", "user").await;
    let alice_token = w.app.login("alice").await;
    let bob = w.app.login("bob").await;
    let owned = w.vps(&w.op).await;
    ask(&w.app, &w.op, &owned, "connect").await.assert_status(StatusCode::OK);
    ask(&w.app, &w.op, &owned, "manage").await.assert_status(StatusCode::OK);
    ask(&w.app, &w.admin, &owned, "manage").await.assert_status(StatusCode::OK);
    ask(&w.app, &alice_token, &owned, "connect").await.assert_status(StatusCode::FORBIDDEN);
    // The original's bare array of user ids.
    w.assign(&owned, json!([alice])).await.assert_status(StatusCode::OK);
    ask(&w.app, &alice_token, &owned, "connect").await.assert_status(StatusCode::OK);
    ask(&w.app, &bob, &owned, "connect").await.assert_status(StatusCode::FORBIDDEN);
    // Bad questions.
    let bad = json!({"resource": "node:1", "action": "connect"});
    w.app
        .call(Method::POST, "/api/authorize", Auth::Bearer(&bob), Some(&bad))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    ask(&w.app, &bob, &owned, "reboot").await.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    // A VPS that does not exist: operators learn so, others are just refused.
    ask(&w.app, &w.op, "123456789", "connect").await.assert_error(StatusCode::NOT_FOUND, "not_found");
    ask(&w.app, &bob, "123456789", "connect").await.assert_error(StatusCode::FORBIDDEN, "not_allowed");
    w.app.call(Method::POST, "/api/authorize", Auth::None, Some(&bad)).await.assert_status(StatusCode::UNAUTHORIZED);

    let audit =
        w.app.call(Method::GET, "/api/admin/audit?action=vps.authorize", Auth::Bearer(&w.admin), None).await.json();
    assert!(audit.as_array().map(Vec::len).unwrap_or(0) >= 3, "refusals are audited");
    assert_eq!(audit[0]["outcome"], "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_checks_every_id_first_and_ignores_duplicates() {
    let w = world().await;
    let u1 = w.app.create_user(&w.admin, "user1", "user").await;
    let vps = w.vps(&w.op).await;
    let refused = w.assign(&vps, json!({"user_ids": [u1, 99999]})).await;
    let body = refused.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("99999")));
    w.assign(&vps, json!({"group_ids": [4242]})).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    let assignments =
        w.app.call(Method::GET, &format!("/api/vps/{vps}/assignments"), Auth::Bearer(&w.op), None).await.json();
    assert_eq!(assignments["assignments"], json!([]), "nothing written before every id was checked");

    w.assign(&vps, json!({"user_ids": [u1, u1]})).await.assert_status(StatusCode::OK);
    w.assign(&vps, json!([u1])).await.assert_status(StatusCode::OK);
    let assignments =
        w.app.call(Method::GET, &format!("/api/vps/{vps}/assignments"), Auth::Bearer(&w.op), None).await.json();
    assert_eq!(assignments["assignments"].as_array().map(Vec::len), Some(1));
    assert_eq!(assignments["assignments"][0]["username"], "user1");
    assert_eq!(assignments["task_id"], vps.as_str(), "task ids are strings");

    // Only VPS take assignments.
    let command = w.app.call(Method::POST, "/api/tasks", Auth::Bearer(&w.op), Some(&json!({"command": "x"}))).await;
    let command_id = krv_tests::task_id(&command);
    w.assign(&command_id, json!([u1])).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    w.assign("not-a-number", json!([u1])).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    w.assign(&vps, json!({"user_ids": "x"})).await.assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    w.app
        .call(Method::DELETE, &format!("/api/vps/{vps}/assign/{u1}"), Auth::Bearer(&w.op), None)
        .await
        .assert_status(StatusCode::OK);
    w.app
        .call(Method::DELETE, &format!("/api/vps/{vps}/assign/{u1}"), Auth::Bearer(&w.op), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let audit = w.app.call(Method::GET, "/api/admin/audit?limit=500", Auth::Bearer(&w.admin), None).await.json();
    let actions: Vec<&str> = audit.as_array().expect("array").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"vps.assign") && actions.contains(&"vps.unassign"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_user_or_the_group_removes_the_assignment_and_my_list_follows() {
    let w = world().await;
    let carl = w.app.create_user(&w.admin, "carl", "user").await;
    let dana = w.app.create_user(&w.admin, "dana", "user").await;
    let carl_token = w.app.login("carl").await;
    let dana_token = w.app.login("dana").await;
    let gid = w.group("team", &[dana]).await;
    let direct = w.vps(&w.op).await;
    let via_group = w.vps(&w.op).await;
    let owned = w.vps(&carl_token).await;
    w.assign(&direct, json!({"user_ids": [carl, dana]})).await.assert_status(StatusCode::OK);
    w.assign(&via_group, json!({"group_ids": [gid]})).await.assert_status(StatusCode::OK);

    let my = |token: String| {
        let app = &w.app;
        async move {
            let list = app.call(Method::GET, "/api/vps/my", Auth::Bearer(&token), None).await.json();
            let mut ids: Vec<String> = list
                .as_array()
                .expect("array")
                .iter()
                .filter_map(|v| v["task_id"].as_str().map(str::to_owned))
                .collect();
            ids.sort();
            ids
        }
    };
    let mut expected = vec![direct.clone(), owned.clone()];
    expected.sort();
    assert_eq!(my(carl_token.clone()).await, expected, "owned and assigned");
    let mut expected = vec![direct.clone(), via_group.clone()];
    expected.sort();
    assert_eq!(my(dana_token.clone()).await, expected, "assigned and through the group");
    let listed = w.app.call(Method::GET, "/api/vps", Auth::Bearer(&w.op), None).await.json();
    let entry = listed.as_array().expect("array").iter().find(|v| v["task_id"] == via_group.as_str()).expect("listed");
    assert_eq!(entry["assigned_groups"], json!([{"id": gid, "name": "team"}]));

    // Deleting the group takes its assignment.
    w.app
        .call(Method::DELETE, &format!("/api/auth/groups/{gid}"), Auth::Bearer(&w.admin), None)
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(my(dana_token.clone()).await, vec![direct.clone()]);
    let assignments =
        w.app.call(Method::GET, &format!("/api/vps/{via_group}/assignments"), Auth::Bearer(&w.op), None).await.json();
    assert_eq!(assignments["group_assignments"], json!([]));
    // Deleting a user takes theirs.
    w.app
        .call(Method::DELETE, &format!("/api/auth/users/{dana}"), Auth::Bearer(&w.admin), None)
        .await
        .assert_status(StatusCode::OK);
    let assignments =
        w.app.call(Method::GET, &format!("/api/vps/{direct}/assignments"), Auth::Bearer(&w.op), None).await.json();
    let names: Vec<&str> =
        assignments["assignments"].as_array().expect("array").iter().filter_map(|a| a["username"].as_str()).collect();
    assert_eq!(names, ["carl"]);
    // A newcomer named like the deleted user gets none of it.
    let new_dana = w.app.create_user(&w.admin, "dana", "user").await;
    assert_ne!(new_dana, dana);
    let newcomer = w.app.login("dana").await;
    assert!(my(newcomer.clone()).await.is_empty());
    ask(&w.app, &newcomer, &direct, "connect").await.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_vps_grants_nothing_and_loses_its_assignments() {
    let w = world().await;
    let eve = w.app.create_user(&w.admin, "eve", "user").await;
    let eve_token = w.app.login("eve").await;
    let vps = w.vps(&w.op).await;
    w.assign(&vps, json!([eve])).await.assert_status(StatusCode::OK);
    ask(&w.app, &eve_token, &vps, "connect").await.assert_status(StatusCode::OK);
    for status in ["running", "stopped"] {
        w.app
            .call(
                Method::POST,
                &format!("/api/tasks/{vps}/status"),
                Auth::Bearer(&w.op),
                Some(&json!({"status": status})),
            )
            .await
            .assert_status(StatusCode::OK);
    }
    ask(&w.app, &eve_token, &vps, "connect").await.assert_status(StatusCode::FORBIDDEN);
    let assignments =
        w.app.call(Method::GET, &format!("/api/vps/{vps}/assignments"), Auth::Bearer(&w.op), None).await.json();
    assert_eq!(assignments["assignments"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vps_waiting_for_approval_grants_no_connection_yet() {
    let w = world().await;
    w.app.create_user(&w.admin, "fay", "user").await;
    let fay = w.app.login("fay").await;
    let vps = w.vps(&fay).await;
    ask(&w.app, &fay, &vps, "connect").await.assert_status(StatusCode::FORBIDDEN);
    w.app
        .call(Method::POST, &format!("/api/approve/{vps}"), Auth::Bearer(&w.op), None)
        .await
        .assert_status(StatusCode::OK);
    ask(&w.app, &fay, &vps, "connect").await.assert_status(StatusCode::OK);
}
