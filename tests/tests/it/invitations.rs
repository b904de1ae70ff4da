//! Invitations: the product page's flow, atomic use counting under
//! concurrency, refusals that create nothing, and who may invite whom.

use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp, TestResponse};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_brings_its_role_and_groups_and_logs_the_new_user_in() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let gpu = app.create_group(Auth::Bearer(&admin), "gpu-team").await;
    let created =
        app.invite(Auth::Bearer(&admin), &json!({"role": "operator", "group_ids": [gpu], "max_uses": 2})).await;
    created.assert_status(StatusCode::CREATED);
    let body = created.json();
    let code = body["code"].as_str().expect("code shown once").to_owned();
    assert_eq!(body["token"], code.as_str(), "the original dashboard reads `token`");
    assert!(body["register_url"].as_str().is_some_and(|u| u.ends_with(&format!("/register?token={code}"))));
    assert_eq!(body["role"], "operator");
    assert_eq!(body["groups"][0]["name"], "gpu-team");
    assert_eq!(
        (body["max_uses"].as_u64(), body["remaining_uses"].as_u64(), body["is_valid"].as_bool()),
        (Some(2), Some(2), Some(true))
    );

    let registered = app.register_invited("newbie", &code).await;
    registered.assert_status(StatusCode::CREATED);
    assert_eq!(registered.json()["user"]["role"], "operator");
    let session = registered.session_token().expect("logged in, as the original");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Cookie(&session), None).await.json();
    assert_eq!(me["role"], "operator");
    assert_eq!(me["groups"], json!([{"id": gpu, "name": "gpu-team"}]));

    // The compat form `?token=` works the same.
    let path = format!("/api/auth/register?token={code}");
    let second =
        app.call(Method::POST, &path, Auth::None, Some(&json!({"username": "second", "password": PASSWORD}))).await;
    second.assert_status(StatusCode::CREATED);
    let listed = app.call(Method::GET, "/api/auth/invitations", Auth::Bearer(&admin), None).await.json();
    assert_eq!(listed[0]["uses"], 2);
    assert_eq!(listed[0]["usage_count"], 2);
    assert_eq!(listed[0]["is_valid"], false);
    let members =
        app.call(Method::GET, &format!("/api/auth/groups/{gpu}/members"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    let third = app.register_invited("third", &code).await;
    third.assert_error(StatusCode::BAD_REQUEST, "invitation_used_up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_concurrent_registrations_on_five_uses_create_exactly_five_users() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let code = app.invite(Auth::Bearer(&admin), &json!({"role": "user", "max_uses": 5})).await.json()["code"]
        .as_str()
        .expect("code")
        .to_owned();
    let attempts = (0..30).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        let code = code.clone();
        async move { instance.register_invited(&format!("racer{i:02}"), &code).await }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let refused: Vec<&TestResponse> = results.iter().filter(|r| r.status != StatusCode::CREATED).collect();
    assert_eq!(created, 5, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(refused.len(), 25);
    for r in &refused {
        r.assert_error(StatusCode::BAD_REQUEST, "invitation_used_up");
    }
    let listed = app.call(Method::GET, "/api/auth/invitations", Auth::Bearer(&admin), None).await.json();
    assert_eq!(listed[0]["uses"], 5);
    assert_eq!(listed[0]["remaining_uses"], 0);
    let users = app.call(Method::GET, "/api/auth/users", Auth::Bearer(&admin), None).await.json();
    let racers = users
        .as_array()
        .expect("array")
        .iter()
        .filter(|u| u["username"].as_str().is_some_and(|n| n.starts_with("racer")))
        .count();
    assert_eq!(racers, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_clash_consumes_no_use() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "taken", "user").await;
    let code = app.invite(Auth::Bearer(&admin), &json!({"role": "viewer", "max_uses": 1})).await.json()["code"]
        .as_str()
        .expect("code")
        .to_owned();
    app.register_invited("taken", &code).await.assert_error(StatusCode::CONFLICT, "username_taken");
    app.register_invited("TAKEN", &code).await.assert_error(StatusCode::CONFLICT, "username_taken");
    // A weak password is refused before anything is written, too.
    let weak = json!({"username": "fresh", "password": "password", "invitation_code": code});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&weak))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app.call(Method::GET, "/api/auth/invitations", Auth::Bearer(&admin), None).await.json();
    assert_eq!(listed[0]["uses"], 0);
    app.register_invited("fresh", &code).await.assert_status(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_revoked_and_unknown_codes_are_refused_and_create_nothing() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.register_invited("nobody1", "inv_madeup").await.assert_error(StatusCode::BAD_REQUEST, "invalid_invitation");

    let revoked = app.invite(Auth::Bearer(&admin), &json!({"role": "viewer"})).await.json();
    let path = format!("/api/auth/invitations/{}", revoked["id"]);
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.register_invited("nobody2", revoked["code"].as_str().expect("code"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_invitation");

    // Expire one by moving its expiry into the past in the table.
    let expiring = app.invite(Auth::Bearer(&admin), &json!({"role": "viewer"})).await.json();
    let code = expiring["code"].as_str().expect("code");
    let hash = shared::crypto::sha256_hex(code);
    let stores = &app.state.stores;
    stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.invitations)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("INV#{hash}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("INV".into()))
        .update_expression("SET expires_at_ms = :past")
        .expression_attribute_values(":past", aws_sdk_dynamodb::types::AttributeValue::N("1000".into()))
        .send()
        .await
        .expect("update");
    app.register_invited("nobody3", code).await.assert_error(StatusCode::BAD_REQUEST, "invitation_expired");

    let users = app.call(Method::GET, "/api/auth/users", Auth::Bearer(&admin), None).await.json();
    assert_eq!(users.as_array().map(Vec::len), Some(1), "only the admin exists: {users}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_invite_viewers_only_and_admins_anyone() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "olga", "operator").await;
    let olga = app.login("olga").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    app.invite(Auth::Bearer(&olga), &json!({"role": "viewer"})).await.assert_status(StatusCode::CREATED);
    app.invite(Auth::Bearer(&olga), &json!({"role": "user"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "role_too_high");
    app.invite(Auth::Bearer(&olga), &json!({})).await.assert_error(StatusCode::FORBIDDEN, "role_too_high");
    app.invite(Auth::Bearer(&olga), &json!({"role": "viewer", "group_ids": [gid]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "groups_admin_only");
    // The role is validated before the operator rule, for everyone.
    for bad in ["root", "anony"] {
        app.invite(Auth::Bearer(&olga), &json!({"role": bad}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    app.invite(Auth::Bearer(&admin), &json!({"role": "admin"})).await.assert_status(StatusCode::CREATED);
    app.invite(Auth::AdminSecret(ADMIN_SECRET), &json!({"role": "admin", "group_id": gid}))
        .await
        .assert_status(StatusCode::CREATED);
    // Operators cannot list or revoke.
    app.call(Method::GET, "/api/auth/invitations", Auth::Bearer(&olga), None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_inputs_are_validated_and_codes_never_listed() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    for (body, field) in [
        (json!({"max_uses": 0}), "max_uses"),
        (json!({"max_uses": 1001}), "max_uses"),
        (json!({"expires_hours": 0}), "expires_hours"),
        (json!({"expires_hours": 721}), "expires_hours"),
    ] {
        let error = app
            .invite(Auth::Bearer(&admin), &body)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(error["errors"][0]["field"], field);
    }
    app.invite(Auth::Bearer(&admin), &json!({"group_ids": [4242]}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let created = app.invite(Auth::Bearer(&admin), &json!({"max_usage": 3, "expires_hours": 1})).await.json();
    assert_eq!(created["max_uses"], 3, "the compat name max_usage is accepted");
    let code = created["code"].as_str().expect("code").to_owned();
    let listed = app.call(Method::GET, "/api/auth/invitations", Auth::Bearer(&admin), None).await;
    let text = String::from_utf8_lossy(&listed.bytes).into_owned();
    assert!(!text.contains(&code), "the list never shows a code");
    let entry = &listed.json()[0];
    assert!(code.starts_with(entry["code_prefix"].as_str().expect("prefix")));
    for field in [
        "id",
        "role",
        "groups",
        "max_uses",
        "uses",
        "remaining_uses",
        "expires_at",
        "is_valid",
        "created_by",
        "created_at",
    ] {
        assert!(entry.get(field).is_some(), "{field} missing: {entry}");
    }
    assert_eq!(entry["created_by"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_audited() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let created = app.invite(Auth::Bearer(&admin), &json!({"role": "viewer", "max_uses": 2})).await.json();
    app.register_invited("joiner", created["code"].as_str().expect("code")).await.assert_status(StatusCode::CREATED);
    app.call(Method::DELETE, &format!("/api/auth/invitations/{}", created["id"]), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    let audit = app.call(Method::GET, "/api/admin/audit?limit=500", Auth::Bearer(&admin), None).await.json();
    let has = |action: &str, actor: &str| {
        audit.as_array().expect("array").iter().any(|e| e["action"] == action && e["actor"] == actor)
    };
    assert!(has("invitation.create", "admin"));
    assert!(has("invitation.use", "joiner"));
    assert!(has("invitation.revoke", "admin"));
    assert!(has("user.register", "joiner"));
}

/// A raw invitation request as `admin` with `host` as its `Host` header.
async fn invite_via_host(app: &TestApp, admin: &str, host: &str) -> TestResponse {
    let request = app.request(Method::POST, "/api/auth/invitations").header(http::header::HOST, host);
    request.bearer(admin).json(&json!({"role": "viewer"})).send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_host_never_becomes_the_origin_of_an_invitation_link() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    for hostile in ["evil.example/phish?x=", "evil.example#", "user@evil.example", "evil.example:99999", "a b"] {
        let refused = invite_via_host(&app, &admin, hostile).await;
        let body = refused.assert_error(StatusCode::BAD_REQUEST, "invalid_host");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("PUBLIC_URL")), "{body}");
    }
    let listed = app.call(Method::GET, "/api/auth/invitations", Auth::Bearer(&admin), None).await.json();
    assert_eq!(listed, json!([]), "a refused request creates nothing");

    // A plain host[:port] is the link's origin: https, or http on loopback.
    let created = invite_via_host(&app, &admin, "krv.example:8443").await;
    created.assert_status(StatusCode::CREATED);
    let url = created.json()["register_url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("https://krv.example:8443/register?token="), "{url}");
    let local = invite_via_host(&app, &admin, "[::1]:8000").await.json();
    assert!(local["register_url"].as_str().is_some_and(|u| u.starts_with("http://[::1]:8000/register?token=")));

    // With PUBLIC_URL the Host is not used at all.
    let public = TestApp::builder().envs(&[("PUBLIC_URL", "https://krv.example/")]).build().await;
    let admin = public.first_admin("admin").await;
    let created = invite_via_host(&public, &admin, "evil.example/phish?x=").await;
    created.assert_status(StatusCode::CREATED);
    let url = created.json()["register_url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("https://krv.example/register?token="), "{url}");
}
