//! Least-privilege API tokens (docs/tokens.md): scopes intersected with the
//! owner's current role, resource limits at `/api/authorize` and the task
//! routes, the lifetime cap, rotation with its overlap, and the admin view.

use std::time::Duration;

use futures::future::join_all;
use http::{Method, StatusCode};
use krv_tests::{Auth, SYSTEM, TestApp, TestResponse};
use serde_json::{Value, json};

/// Creates a token with `body` for the holder of `session`; its secret and id.
async fn token(app: &TestApp, session: &str, body: Value) -> (String, u64) {
    let created = app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(session), Some(&body)).await;
    created.assert_status(StatusCode::CREATED);
    let body = created.json();
    (body["token"].as_str().expect("secret").to_owned(), body["id"].as_u64().expect("id"))
}

async fn vps(app: &TestApp, session: &str) -> String {
    let body = json!({"task_type": "vps", "command": "ssh-ed25519 AAAA", "name": "box"});
    app.submit_task(Auth::Bearer(session), &body).await
}

async fn ask(app: &TestApp, token: &str, vps: &str, action: &str) -> TestResponse {
    let body = json!({"resource": format!("vps:{vps}"), "action": action});
    app.call(Method::POST, "/api/authorize", Auth::Bearer(token), Some(&body)).await
}

fn command(name: &str) -> Value {
    json!({"command": "echo", "arguments": ["hi"], "name": name})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_rights_are_its_scopes_within_its_owners_current_role() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let op = app.with_user("oper", "operator").await;
    let author = app.with_user("author", "user").await;
    let (approver, _) = token(&app, &op.token, json!({"name": "approver", "scopes": ["read", "tasks:approve"]})).await;
    let (submitter, _) = token(&app, &op.token, json!({"name": "submitter", "scopes": ["tasks:submit"]})).await;

    // Each scope opens its routes and no others.
    let listed = other.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&approver), None).await;
    listed.assert_status(StatusCode::OK);
    let names: Vec<Value> = listed.json().as_array().expect("list").iter().map(|t| t["scopes"].clone()).collect();
    assert!(names.contains(&json!(["read", "tasks:approve"])), "{names:?}");
    let refused = other.submit(Auth::Bearer(&approver), &command("nope")).await;
    let detail = refused.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert!(detail["detail"].as_str().expect("detail").contains("tasks:submit"), "{detail}");
    other.submit(Auth::Bearer(&submitter), &command("ok")).await.assert_status(StatusCode::ACCEPTED);
    other
        .call(Method::GET, "/api/tasks", Auth::Bearer(&submitter), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    // Own-account changes need `inherit`.
    let change = json!({"current_password": krv_tests::PASSWORD, "new_password": "Another-Horse-Battery-7"});
    other
        .call(Method::POST, "/api/auth/password", Auth::Bearer(&approver), Some(&change))
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");

    // The approver approves while its owner is an operator...
    let first = app.submit_task(author.auth(), &command("first")).await;
    let approve = |id: String| {
        let other = &other;
        let approver = &approver;
        async move { other.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(approver), None).await }
    };
    approve(first).await.assert_status(StatusCode::OK);
    // ...and no longer once the owner is demoted, at once, on every instance;
    // what the scope and the new role share (reading) still works.
    app.set_role(SYSTEM, op.id, "user").await.assert_status(StatusCode::OK);
    let second = app.submit_task(author.auth(), &command("second")).await;
    approve(second).await.assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    other.call(Method::GET, "/api/tasks", Auth::Bearer(&approver), None).await.assert_status(StatusCode::OK);

    // A scope above the owner's role is refused at creation, naming the role.
    let above = app
        .call(Method::POST, "/api/auth/tokens", author.auth(), Some(&json!({"name": "x", "scopes": ["users:admin"]})))
        .await;
    assert_eq!(above.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(above.json()["detail"].to_string().contains("admin"), "{}", above.json());
    for bad in [json!(["inherit", "read"]), json!(["root"]), json!([]), json!("read")] {
        let body = json!({"name": "bad", "scopes": bad});
        let answer = app.call(Method::POST, "/api/auth/tokens", author.auth(), Some(&body)).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", answer.json());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_mints_only_what_it_holds_itself() {
    let app = TestApp::start().await;
    let user = app.with_user("maker", "user").await;
    let (manager, _) =
        token(&app, &user.token, json!({"name": "m", "scopes": ["tokens:manage", "read"], "resources": ["task:5"]}))
            .await;
    let mint = |body: Value| {
        let app = &app;
        let manager = &manager;
        async move { app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(manager), Some(&body)).await }
    };
    // Not resource-limited routes for a limited token: minting is refused.
    mint(json!({"name": "a", "scopes": ["read"]})).await.assert_error(StatusCode::FORBIDDEN, "token_resource_limited");

    let (open_manager, _) = token(&app, &user.token, json!({"name": "om", "scopes": ["tokens:manage", "read"]})).await;
    let mint = |body: Value| {
        let app = &app;
        let open_manager = &open_manager;
        async move { app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(open_manager), Some(&body)).await }
    };
    mint(json!({"name": "b", "scopes": ["read"]})).await.assert_status(StatusCode::CREATED);
    mint(json!({"name": "c", "scopes": ["read"], "resources": ["vps:9"]})).await.assert_status(StatusCode::CREATED);
    mint(json!({"name": "d", "scopes": ["tasks:submit"]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    mint(json!({"name": "e"})).await.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_limits_hold_at_authorize_and_on_the_task_routes() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let op = app.with_user("oper", "operator").await;
    let mine = vps(&app, &op.token).await;
    let elsewhere = vps(&app, &op.token).await;
    let (limited, _) = token(
        &app,
        &op.token,
        json!({"name": "one-box", "scopes": ["vps:connect", "read"], "resources": [format!("vps:{mine}")]}),
    )
    .await;
    let (manager, _) = token(&app, &op.token, json!({"name": "manage", "scopes": ["vps:manage"]})).await;

    let allowed = ask(&other, &limited, &mine, "connect").await;
    allowed.assert_status(StatusCode::OK);
    assert_eq!(allowed.json()["user"], "oper");
    ask(&other, &limited, &elsewhere, "connect").await.assert_error(StatusCode::FORBIDDEN, "token_resource_limited");
    ask(&other, &limited, &mine, "manage").await.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    // The operator's session and an unlimited `vps:manage` token may do both.
    ask(&other, &op.token, &elsewhere, "manage").await.assert_status(StatusCode::OK);
    ask(&other, &manager, &elsewhere, "manage").await.assert_status(StatusCode::OK);
    ask(&other, &manager, &elsewhere, "connect").await.assert_status(StatusCode::OK);

    // The task routes check the limit, `/me` works, other routes refuse.
    other
        .call(Method::GET, &format!("/api/tasks/{mine}"), Auth::Bearer(&limited), None)
        .await
        .assert_status(StatusCode::OK);
    other
        .call(Method::GET, &format!("/api/status/{elsewhere}"), Auth::Bearer(&limited), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "token_resource_limited");
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&limited), None).await.assert_status(StatusCode::OK);
    for path in ["/api/tasks", "/api/vps", "/api/auth/users", "/api/auth/tokens"] {
        let answer = other.call(Method::GET, path, Auth::Bearer(&limited), None).await;
        answer.assert_error(StatusCode::FORBIDDEN, "token_resource_limited");
    }
    // A `task:` resource names a VPS too; a `vps:` one names no plain task.
    let plain = app.submit_task(op.auth(), &command("plain")).await;
    let (by_task, _) =
        token(&app, &op.token, json!({"name": "by-task", "scopes": ["vps:connect", "read"], "resources": [format!("task:{mine}"), format!("vps:{plain}")]}))
            .await;
    ask(&other, &by_task, &mine, "connect").await.assert_status(StatusCode::OK);
    other
        .call(Method::GET, &format!("/api/tasks/{plain}"), Auth::Bearer(&by_task), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "token_resource_limited");
    for bad in [
        json!(["vps:"]),
        json!(["vm:1"]),
        json!(["vps:-1"]),
        json!((0..21).map(|i| format!("task:{i}")).collect::<Vec<_>>()),
    ] {
        let body = json!({"name": "bad", "resources": bad});
        let answer = app.call(Method::POST, "/api/auth/tokens", op.auth(), Some(&body)).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", answer.json());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifetime_cap_limits_new_tokens_and_the_admin_view_reports_older_ones() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let user = app.with_user("scripter", "user").await;
    // Made while no cap was set: never expires.
    let (_, forever) = token(&app, &user.token, json!({"name": "forever"})).await;
    let (_, long) = token(&app, &user.token, json!({"name": "long", "expires_in_days": 90})).await;

    let capped = app.another_instance_with(&[("TOKEN_MAX_LIFETIME_DAYS", "30")]).await;
    let over = capped
        .call(Method::POST, "/api/auth/tokens", user.auth(), Some(&json!({"name": "over", "expires_in_days": 31})))
        .await;
    assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = over.json()["detail"].to_string();
    assert!(detail.contains("30") && detail.contains("TOKEN_MAX_LIFETIME_DAYS"), "{detail}");
    // At the cap is fine; no expiry asked gets the cap (the original CLI asks none).
    let at_cap = capped
        .call(Method::POST, "/api/auth/tokens", user.auth(), Some(&json!({"name": "at-cap", "expires_in_days": 30})))
        .await;
    at_cap.assert_status(StatusCode::CREATED);
    let defaulted =
        capped.call(Method::POST, "/api/auth/tokens/create", user.auth(), Some(&json!({"name": "cli"}))).await;
    defaulted.assert_status(StatusCode::OK);
    let expires = defaulted.json()["expires_at"].as_str().expect("the cap applies").to_owned();
    let expires_at_cap = at_cap.json()["expires_at"].as_str().expect("expiry").to_owned();
    assert_eq!(expires[..13], expires_at_cap[..13], "both expire 30 days out");

    let view = capped.call(Method::GET, "/api/auth/tokens/all?past_cap=true", admin.auth(), None).await;
    view.assert_status(StatusCode::OK);
    let body = view.json();
    assert_eq!(body["max_lifetime_days"], 30);
    let mut past: Vec<u64> =
        body["tokens"].as_array().expect("tokens").iter().map(|t| t["id"].as_u64().expect("id")).collect();
    past.sort_unstable();
    assert_eq!(past, vec![forever, long], "{body}");
    let entry = &body["tokens"][0];
    assert_eq!(entry["username"], "scripter");
    assert_eq!(entry["owner_kind"], "human");
    assert_eq!(entry["past_cap"], true);
    // Not for anyone below admin.
    capped
        .call(Method::GET, "/api/auth/tokens/all", user.auth(), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_view_filters_and_pages_every_users_tokens() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let alice = app.with_user("alice", "user").await;
    let bob = app.with_user("bobby", "operator").await;
    for i in 0..3 {
        token(&app, &alice.token, json!({"name": format!("a{i}"), "scopes": ["read"]})).await;
    }
    token(&app, &alice.token, json!({"name": "soon", "scopes": ["tasks:submit"], "expires_in_days": 2})).await;
    let (_, bobs) = token(&app, &bob.token, json!({"name": "approve", "scopes": ["tasks:approve"]})).await;

    let all = |query: &str| {
        let app = &app;
        let admin = &admin;
        let path = format!("/api/auth/tokens/all{query}");
        async move {
            let answer = app.call(Method::GET, &path, admin.auth(), None).await;
            answer.assert_status(StatusCode::OK);
            answer.json()
        }
    };
    let names = |body: &Value| {
        let mut names: Vec<String> = body["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&all(&format!("?owner={}", bob.id)).await), ["approve"]);
    assert_eq!(names(&all("?scope=tasks:submit").await), ["soon"]);
    assert_eq!(names(&all("?expiring_within_days=7").await), ["soon"]);
    // Paging two at a time visits every token once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".to_owned(),
        };
        let page = all(&query).await;
        assert!(page["tokens"].as_array().expect("tokens").len() <= 2);
        seen.extend(names(&page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, ["a0", "a1", "a2", "approve", "soon"]);
    for bad in ["?limit=0", "?scope=root", "?cursor=!!", "?expiring_within_days=0"] {
        let answer = app.call(Method::GET, &format!("/api/auth/tokens/all{bad}"), admin.auth(), None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    // The admin revokes any token, and it stops at once.
    app.call(Method::DELETE, &format!("/api/auth/tokens/{bobs}"), admin.auth(), None)
        .await
        .assert_status(StatusCode::OK);
    assert!(names(&all(&format!("?owner={}", bob.id)).await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_the_old_secret_for_the_overlap_only() {
    let app = TestApp::builder().env("TOKEN_ROTATION_OVERLAP_SECS", "2").build().await;
    let other = app.another_instance().await;
    let user = app.with_user("rotor", "user").await;
    let (old, id) = token(&app, &user.token, json!({"name": "deploy", "scopes": ["read", "tokens:manage"]})).await;
    // Warm the old secret's cache entry on the other instance.
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&old), None).await.assert_status(StatusCode::OK);

    // The token rotates itself (it holds tokens:manage).
    let rotated = app.call(Method::POST, &format!("/api/auth/tokens/{id}/rotate"), Auth::Bearer(&old), None).await;
    rotated.assert_status(StatusCode::OK);
    let body = rotated.json();
    let new = body["token"].as_str().expect("new secret").to_owned();
    assert_ne!(new, old);
    assert_eq!(body["id"], id);
    assert_eq!(body["name"], "deploy");
    assert_eq!(body["scopes"], json!(["read", "tokens:manage"]));
    assert!(body["previous_valid_until"].is_string(), "{body}");
    // Both work during the overlap; the list shows the token once.
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&old), None).await.assert_status(StatusCode::OK);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&new), None).await.assert_status(StatusCode::OK);
    let listed = app.call(Method::GET, "/api/auth/tokens", user.auth(), None).await.json();
    assert_eq!(listed.as_array().expect("list").len(), 1, "{listed}");
    assert!(new.starts_with(listed[0]["prefix"].as_str().expect("prefix")));

    tokio::time::sleep(Duration::from_millis(2_600)).await;
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&old), None).await.assert_status(StatusCode::UNAUTHORIZED);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&old), None).await.assert_status(StatusCode::UNAUTHORIZED);
    other.call(Method::GET, "/api/auth/me", Auth::Bearer(&new), None).await.assert_status(StatusCode::OK);

    // Others' tokens are not found; an unknown id neither.
    let stranger = app.with_user("stranger", "user").await;
    app.call(Method::POST, &format!("/api/auth/tokens/{id}/rotate"), stranger.auth(), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_chain_like_serial_ones_and_revocation_ends_every_secret() {
    let app = TestApp::start().await;
    let others = [app.another_instance().await, app.another_instance().await];
    let user = app.with_user("racer", "user").await;
    let (old, id) = token(&app, &user.token, json!({"name": "race"})).await;

    // Eight rotations at once on two instances. Rotations that read the same
    // secret race and one wins (the others: 409); rotations that read a
    // winner's secret rotate it again. Any serial order leaves a chain, and
    // after it exactly two secrets work: the last one and its predecessor
    // (each rotation ends the overlap of the one before).
    let path = format!("/api/auth/tokens/{id}/rotate");
    let answers = join_all((0..8).map(|i| {
        let instance = &others[i % 2];
        let path = &path;
        let session = &user.token;
        async move { instance.call(Method::POST, path, Auth::Bearer(session), None).await }
    }))
    .await;
    let won: Vec<String> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .map(|a| a.json()["token"].as_str().expect("secret").to_owned())
        .collect();
    assert!(!won.is_empty(), "some rotation wins");
    for lost in answers.iter().filter(|a| a.status != StatusCode::OK) {
        lost.assert_error(StatusCode::CONFLICT, "token_changed");
    }
    let listed = app.call(Method::GET, "/api/auth/tokens", user.auth(), None).await.json();
    assert_eq!(listed.as_array().expect("list").len(), 1, "{listed}");
    let prefix = listed[0]["prefix"].as_str().expect("prefix").to_owned();
    let secrets: Vec<&String> = std::iter::once(&old).chain(won.iter()).collect();
    let current: Vec<&&String> = secrets.iter().filter(|s| s.starts_with(&prefix)).collect();
    assert_eq!(current.len(), 1, "the list shows the last secret");
    let mut working = 0;
    for secret in &secrets {
        if others[0].call(Method::GET, "/api/auth/me", Auth::Bearer(secret), None).await.status == StatusCode::OK {
            working += 1;
        }
    }
    assert_eq!(working, 2, "the last secret and its predecessor work ({} rotations won)", won.len());

    app.call(Method::DELETE, &format!("/api/auth/tokens/{id}"), user.auth(), None).await.assert_status(StatusCode::OK);
    for secret in &secrets {
        for instance in &others {
            instance
                .call(Method::GET, "/api/auth/me", Auth::Bearer(secret), None)
                .await
                .assert_status(StatusCode::UNAUTHORIZED);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_racing_rotations_revokes_the_token_whatever_its_secret_by_then() {
    let app = TestApp::start().await;
    let others = [app.another_instance().await, app.another_instance().await];
    let user = app.with_user("revoker", "user").await;
    for round in 0..5 {
        let (old, id) = token(&app, &user.token, json!({"name": format!("race-{round}")})).await;
        let rotate = format!("/api/auth/tokens/{id}/rotate");
        let revoke = format!("/api/auth/tokens/{id}");
        let rotations = join_all((0..4).map(|i| others[i % 2].call(Method::POST, &rotate, user.auth(), None)));
        let (rotated, revoked) = tokio::join!(rotations, app.call(Method::DELETE, &revoke, user.auth(), None));
        // In any serial order the revocation finds the token (rotations keep it).
        revoked.assert_status(StatusCode::OK);
        let mut secrets = vec![old];
        for answer in &rotated {
            if answer.status == StatusCode::OK {
                secrets.push(answer.json()["token"].as_str().expect("secret").to_owned());
            } else {
                assert!(matches!(answer.status.as_u16(), 404 | 409), "{}", answer.status);
            }
        }
        for secret in &secrets {
            let me = others[0].call(Method::GET, "/api/auth/me", Auth::Bearer(secret), None).await;
            me.assert_status(StatusCode::UNAUTHORIZED);
        }
        let listed = app.call(Method::GET, "/api/auth/tokens", user.auth(), None).await.json();
        assert_eq!(listed.as_array().expect("list").len(), 0, "nothing of the token is left: {listed}");
    }
}
