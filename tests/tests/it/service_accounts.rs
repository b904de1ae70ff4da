//! Service accounts (issue #23, docs/tokens.md "Service accounts"): users of
//! kind `service` that admins create, list and delete, that share the
//! username namespace with people, hold only tokens admins mint for them, and
//! are refused every way a person gets in: a password login, a second factor,
//! single sign-on (provisioning and linking, against the real test OpenID
//! provider), an admin's password reset and a promotion to admin.

use std::net::SocketAddr;

use futures::future::join_all;
use http::{Method, StatusCode};
use krv_tests::invariants::Snapshot;
use krv_tests::{Auth, IdpClient, PASSWORD, SYSTEM, TestApp, TestIdp};
use serde_json::{Value, json};

const BASE: &str = "/api/auth/service-accounts";

/// `POST /api/auth/service-accounts` as `auth`, whatever it answers.
async fn post_account(app: &TestApp, auth: Auth<'_>, body: &Value) -> krv_tests::TestResponse {
    app.call(Method::POST, BASE, auth, Some(body)).await
}

/// Creates the service account `name` with `role` as `auth`; returns its view.
async fn create_account(app: &TestApp, auth: Auth<'_>, name: &str, role: &str) -> Value {
    let created = post_account(app, auth, &json!({"name": name, "role": role})).await;
    created.assert_status(StatusCode::CREATED);
    created.json()
}

/// Mints a token for service account `id` as `auth` with `body`, whatever it answers.
async fn mint(app: &TestApp, auth: Auth<'_>, id: u64, body: &Value) -> krv_tests::TestResponse {
    app.call(Method::POST, &format!("{BASE}/{id}/tokens"), auth, Some(body)).await
}

/// Mints the token `name` (all the account's rights) for `id`; returns the token.
async fn mint_token(app: &TestApp, id: u64, name: &str) -> String {
    let minted = mint(app, SYSTEM, id, &json!({"name": name})).await;
    minted.assert_status(StatusCode::CREATED);
    minted.json()["token"].as_str().expect("token").to_owned()
}

fn id_of(value: &Value) -> u64 {
    value["id"].as_u64().expect("numeric id")
}

async fn listed(app: &TestApp, path: &str) -> Vec<Value> {
    let response = app.call(Method::GET, path, SYSTEM, None).await;
    response.assert_status(StatusCode::OK);
    response.json().as_array().expect("array").clone()
}

fn names(list: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().map(|u| u["username"].as_str().expect("username").to_owned()).collect();
    names.sort();
    names
}

/// The actions of the audit events whose target mentions `needle`.
async fn audited(app: &TestApp, needle: &str) -> Vec<Value> {
    let events = listed(app, "/api/admin/audit?limit=500").await;
    events.into_iter().filter(|e| e["target"].as_str().is_some_and(|t| t.contains(needle))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_lists_and_deletes_service_accounts() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let created = post_account(
        &app,
        admin.auth(),
        &json!({"name": "ci-bot", "role": "operator", "display_name": "Continuous integration"}),
    )
    .await;
    created.assert_status(StatusCode::CREATED);
    let bot = created.json();
    let id = id_of(&bot);
    assert_eq!(bot["username"], "ci-bot");
    assert_eq!(bot["display_name"], "Continuous integration");
    assert_eq!(bot["role"], "operator");
    assert_eq!(bot["kind"], "service");
    assert_eq!(bot["is_active"], true);
    assert!(bot["created_at"].is_string(), "{bot}");
    assert_eq!(bot["group_id"], Value::Null);
    assert_eq!(bot["created_by"], admin.id, "the creating admin is recorded");
    // The admin secret creates one too, with no creating admin.
    let other = create_account(&app, SYSTEM, "nightly", "viewer").await;
    assert_eq!(other["created_by"], Value::Null);
    assert_eq!(other["display_name"], "nightly", "the display name defaults to the name");

    let accounts = listed(&app, BASE).await;
    assert_eq!(names(&accounts), ["ci-bot", "nightly"]);
    assert!(accounts.iter().all(|a| a["kind"] == "service"));
    // One by one with a cursor, newest first.
    let page = app.call(Method::GET, &format!("{BASE}?limit=1"), SYSTEM, None).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(page.json()[0]["username"], "nightly");
    let cursor = page.header("x-next-cursor").expect("a next page").to_owned();
    let rest = listed(&app, &format!("{BASE}?limit=1&cursor={cursor}")).await;
    assert_eq!(names(&rest), ["ci-bot"]);

    // The users list is people's; one account shows with its kind by id.
    let people = listed(&app, "/api/auth/users").await;
    assert_eq!(names(&people), ["admin"]);
    assert_eq!(people[0]["kind"], "human");
    let shown = app.call(Method::GET, &format!("/api/auth/users/{id}"), SYSTEM, None).await;
    shown.assert_status(StatusCode::OK);
    assert_eq!(shown.json()["kind"], "service");
    assert_eq!(shown.json()["username"], "ci-bot");

    // A person's id is no service account: not deleted here.
    app.call(Method::DELETE, &format!("{BASE}/{}", admin.id), admin.auth(), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.me_status(&admin.token).await, StatusCode::OK);
    app.call(Method::DELETE, &format!("{BASE}/999999"), admin.auth(), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    let deleted = app.call(Method::DELETE, &format!("{BASE}/{id}"), admin.auth(), None).await;
    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.json()["message"], "Service account ci-bot deleted");
    assert_eq!(names(&listed(&app, BASE).await), ["nightly"]);
    app.call(Method::GET, &format!("/api/auth/users/{id}"), SYSTEM, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // The name is free again, for a person too.
    app.create_user_as(SYSTEM, "ci-bot", "user").await;

    let actions: Vec<String> = audited(&app, &format!("user:{id} ci-bot"))
        .await
        .iter()
        .filter(|e| e["actor"] == "admin")
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect();
    assert!(actions.contains(&"service_account.create".to_owned()), "{actions:?}");
    assert!(actions.contains(&"service_account.delete".to_owned()), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creation_checks_the_caller_the_role_the_name_and_the_group() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let operator = app.with_user("olga", "operator").await;
    // Admins only, for every service-account route.
    post_account(&app, operator.auth(), &json!({"name": "bot", "role": "viewer"}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.call(Method::GET, BASE, operator.auth(), None).await.assert_status(StatusCode::FORBIDDEN);
    // Admin rights stay with people; only the assignable roles below it.
    for role in ["admin", "anony", "root"] {
        let refused = post_account(&app, admin.auth(), &json!({"name": "bot", "role": role})).await;
        let body = refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY).json();
        assert!(body["detail"].as_str().expect("detail").starts_with("role:"), "{body}");
    }
    // The username rules, reported under `name`.
    for name in ["ab", "_system", "has space"] {
        let refused = post_account(&app, admin.auth(), &json!({"name": name, "role": "user"})).await;
        let body = refused.assert_status(StatusCode::UNPROCESSABLE_ENTITY).json();
        assert!(body["detail"].as_str().expect("detail").starts_with("name:"), "{name}: {body}");
    }
    // One namespace with people, case-insensitively, both ways.
    post_account(&app, admin.auth(), &json!({"name": "OLGA", "role": "user"}))
        .await
        .assert_error(StatusCode::CONFLICT, "username_taken");
    create_account(&app, admin.auth(), "deployer", "user").await;
    let person = json!({"username": "Deployer", "password": PASSWORD, "role": "user"});
    app.call(Method::POST, "/api/auth/register", SYSTEM, Some(&person))
        .await
        .assert_error(StatusCode::CONFLICT, "username_taken");
    // A group that does not exist makes nothing.
    post_account(&app, admin.auth(), &json!({"name": "grouped", "role": "user", "group_id": 4242}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // An owning group: the account is a member of it.
    let gid = app.create_group(SYSTEM, "gpu-team").await;
    let owned = post_account(&app, admin.auth(), &json!({"name": "grouped", "role": "user", "group_id": gid})).await;
    owned.assert_status(StatusCode::CREATED);
    let owned = owned.json();
    assert_eq!(owned["group_id"], gid);
    let shown = app.call(Method::GET, &format!("/api/auth/users/{}", id_of(&owned)), SYSTEM, None).await.json();
    assert_eq!(shown["groups"][0]["id"], gid, "{shown}");
    let group = app.call(Method::GET, &format!("/api/auth/groups/{gid}"), SYSTEM, None).await.json();
    assert_eq!(group["member_count"], 1, "{group}");
    assert_eq!(names(&listed(&app, BASE).await), ["deployer", "grouped"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_acts_as_the_account_within_its_scopes() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let person = app.with_user("paula", "user").await;
    let bot = create_account(&app, admin.auth(), "reporter", "operator").await;
    let id = id_of(&bot);

    let minted =
        mint(&app, admin.auth(), id, &json!({"name": "dashboards", "scopes": ["read"], "expires_in_days": 30})).await;
    minted.assert_status(StatusCode::CREATED);
    let body = minted.json();
    assert_eq!(body["name"], "dashboards");
    assert_eq!(body["scopes"], json!(["read"]));
    assert!(body["expires_at"].is_string(), "{body}");
    let token = body["token"].as_str().expect("token shown once").to_owned();

    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await;
    me.assert_status(StatusCode::OK);
    let me = me.json();
    assert_eq!(me["id"], id);
    assert_eq!(me["username"], "reporter");
    assert_eq!(me["kind"], "service");
    assert_eq!(me["auth_method"], "api_token");
    // Reading as an operator: the users list is open to operators.
    app.call(Method::GET, "/api/auth/users", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
    // Nothing beyond `read`.
    let path = format!("/api/auth/users/{}/unlock", person.id);
    let refused = app.call(Method::POST, &path, Auth::Bearer(&token), None).await;
    refused.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&token), Some(&json!({"name": "more"})))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Scopes are bounded by the account's role, as for a person's own token.
    mint(&app, admin.auth(), id, &json!({"name": "too-much", "scopes": ["users:admin"]}))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    // Admins only; a person's id is no service account.
    mint(&app, person.auth(), id, &json!({"name": "mine"})).await.assert_status(StatusCode::FORBIDDEN);
    mint(&app, admin.auth(), person.id, &json!({"name": "theirs"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    // The same name twice is refused as for any owner.
    mint(&app, admin.auth(), id, &json!({"name": "dashboards"})).await.assert_status(StatusCode::CONFLICT);

    let created: Vec<Value> =
        audited(&app, &format!("of user:{id}")).await.into_iter().filter(|e| e["action"] == "token.create").collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["actor"], "admin", "the minting admin is the actor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_cannot_mint_tokens_for_itself() {
    let app = TestApp::start().await;
    let id = id_of(&create_account(&app, SYSTEM, "builder", "user").await);
    // Even holding all its rights (`inherit`, which includes `tokens:manage`).
    let token = mint_token(&app, id, "all-of-it").await;
    for path in ["/api/auth/tokens", "/api/auth/tokens/create"] {
        let refused = app.call(Method::POST, path, Auth::Bearer(&token), Some(&json!({"name": "another"}))).await;
        refused.assert_error(StatusCode::FORBIDDEN, "service_account");
    }
    let own = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&token), None).await;
    assert_eq!(own.json().as_array().map(Vec::len), Some(1), "only the minted token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_never_logs_in_with_a_password_and_has_no_factors() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    app.with_user("paula", "user").await;
    let bot = create_account(&app, admin.auth(), "backup-bot", "user").await;
    let id = id_of(&bot);

    // No hash is stored at all.
    let items = app.scan(&app.state.stores.tables.identity).await;
    let item = items
        .iter()
        .find(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| pk == &format!("USER#{id}")))
        .expect("the account's item");
    assert!(!item.contains_key("password_hash"), "{item:?}");
    assert_eq!(item.get("kind").and_then(|v| v.as_s().ok()).map(String::as_str), Some("service"));

    // Refused exactly as a wrong password is, whatever is typed.
    let wrong = app.login_attempt("paula", "Not-The-Password-1", "127.0.0.2").await;
    wrong.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    for password in ["", PASSWORD, "anything-at-all"] {
        let refused = app.login_attempt("backup-bot", password, "127.0.0.3").await;
        refused.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(refused.json(), wrong.json(), "the same answer as a wrong password");
        assert!(refused.session_token().is_none());
    }
    let reasons: Vec<Value> = audited(&app, "user:backup-bot")
        .await
        .into_iter()
        .filter(|e| e["action"] == "auth.login")
        .map(|e| e["reason"].clone())
        .collect();
    assert!(!reasons.is_empty() && reasons.iter().all(|r| r == "service_account"), "{reasons:?}");

    // An admin cannot give it a password, nor reset factors it cannot have.
    let path = format!("/api/auth/users/{id}");
    app.call(Method::POST, &format!("{path}/password"), admin.auth(), Some(&json!({"password": "Brand-New-Pass-77"})))
        .await
        .assert_error(StatusCode::CONFLICT, "service_account");
    app.login_attempt("backup-bot", "Brand-New-Pass-77", "127.0.0.4")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.call(Method::DELETE, &format!("{path}/mfa"), admin.auth(), None)
        .await
        .assert_error(StatusCode::CONFLICT, "service_account");

    // With its own token: no second factor, no password of its own.
    let token = mint_token(&app, id, "ops").await;
    let bearer = Auth::Bearer(&token);
    app.call(Method::GET, "/api/auth/mfa", bearer, None).await.assert_error(StatusCode::FORBIDDEN, "service_account");
    app.call(Method::POST, "/api/auth/mfa/totp", bearer, Some(&json!({"password": "x"})))
        .await
        .assert_error(StatusCode::FORBIDDEN, "service_account");
    let change = json!({"current_password": "", "new_password": "Some-New-Pass-88"});
    app.call(Method::POST, "/api/auth/password", bearer, Some(&change))
        .await
        .assert_error(StatusCode::FORBIDDEN, "service_account");

    // Never an admin: admin rights stay with people. Other roles are fine.
    app.set_role(admin.auth(), id, "admin").await.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    app.call(Method::PATCH, &path, admin.auth(), Some(&json!({"role": "admin"})))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.role_of(id).await, "user");
    app.set_role(admin.auth(), id, "operator").await.assert_status(StatusCode::OK);
    assert_eq!(app.role_of(id).await, "operator");
    assert_eq!(app.me_status(&token).await, StatusCode::OK, "its token lives on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_service_account_revokes_its_tokens_everywhere() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.with_admin().await;
    let id = id_of(&create_account(&app, admin.auth(), "etl", "user").await);
    let first = mint_token(&app, id, "first").await;
    let second = mint_token(&app, id, "second").await;
    // Both warm in the other instance's path (the cached token and owner).
    assert_eq!(other.me_status(&first).await, StatusCode::OK);
    assert_eq!(other.me_status(&second).await, StatusCode::OK);

    let deleted = app.call(Method::DELETE, &format!("{BASE}/{id}"), admin.auth(), None).await;
    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.json()["tokens_revoked"], 2);
    for token in [&first, &second] {
        assert_eq!(other.me_status(token).await, StatusCode::UNAUTHORIZED);
        assert_eq!(app.me_status(token).await, StatusCode::UNAUTHORIZED);
    }
    let snapshot = Snapshot::read(&app.state.stores).await.expect("snapshot");
    assert!(snapshot.consistent_tokens().is_empty(), "no token of the account is stored");
    snapshot.consistent_users();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_list_pages_over_people_only() {
    let app = TestApp::start().await;
    app.with_admin().await;
    // Interleaved, so service accounts sit between people in id order.
    for i in 0..3 {
        app.create_user_as(SYSTEM, &format!("person-{i}"), "user").await;
        create_account(&app, SYSTEM, &format!("robot-{i}"), "viewer").await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/auth/users?limit=2".to_owned();
    loop {
        let page = app.call(Method::GET, &path, SYSTEM, None).await;
        page.assert_status(StatusCode::OK);
        let rows = page.json().as_array().expect("array").clone();
        assert!(rows.len() <= 2);
        seen.extend(rows.iter().map(|u| u["username"].as_str().expect("name").to_owned()));
        match page.header("x-next-cursor") {
            Some(cursor) => path = format!("/api/auth/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["person-2", "person-1", "person-0", "admin"], "people only, newest first, none twice");
    assert_eq!(names(&listed(&app, "/api/auth/users").await), ["admin", "person-0", "person-1", "person-2"]);
    assert_eq!(names(&listed(&app, BASE).await), ["robot-0", "robot-1", "robot-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_of_one_name_make_exactly_one_account() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let attempts = (0..8).map(|i| {
        // The same name in different cases: one case-folded reservation.
        let name = if i % 2 == 0 { "Race-Bot" } else { "race-bot" };
        let body = json!({"name": name, "role": "user"});
        let app = &app;
        let auth = admin.auth();
        async move { app.call(Method::POST, BASE, auth, Some(&body)).await.status }
    });
    let statuses = join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(listed(&app, BASE).await.len(), 1);
    // One record, one reservation, and the role counter counts it once.
    let snapshot = Snapshot::read(&app.state.stores).await.expect("snapshot");
    let users = snapshot.consistent_users();
    assert_eq!(users.values().filter(|(name, _, _)| name.eq_ignore_ascii_case("race-bot")).count(), 1);
}

/// Our service on a real socket with the provider `test` (provisioning on),
/// on a provider of its own.
struct Sso {
    app: TestApp,
    idp: TestIdp,
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sso {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const IDP_SECRET: &str = "krv-client-secret-for-the-tests";

async fn sso() -> Sso {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let client = IdpClient {
        client_id: "krv".into(),
        client_secret: IDP_SECRET.into(),
        redirect_uris: vec![format!("{base}/api/auth/oidc/test/callback")],
        post_logout_redirect_uris: vec![format!("{base}/login")],
    };
    let idp = TestIdp::start(vec![client]).await.expect("the OpenID provider starts");
    let providers = json!([{
        "id": "test", "name": "IdP", "issuer": idp.issuer, "client_id": "krv",
        "client_secret_env": "TEST_IDP_SECRET", "provision": true,
    }]);
    let app = TestApp::builder()
        .env("PUBLIC_URL", &base)
        .env("OIDC_PROVIDERS", &providers.to_string())
        .env("TEST_IDP_SECRET", IDP_SECRET)
        .build()
        .await;
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    Sso { app, idp, base, server }
}

/// A whole browser login at the provider as `sub` calling itself `username`.
async fn sso_login(s: &Sso, sub: &str, username: &str) -> krv_tests::BrowseResult {
    s.idp.next_login(sub, json!({"preferred_username": username})).await.expect("next login");
    s.idp.browse(&format!("{}/api/auth/oidc/test/start?next=%2F", s.base), None).await.expect("back to us")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_never_provisions_over_or_links_to_a_service_account() {
    let s = sso().await;
    let app = &s.app;
    let bot = create_account(app, SYSTEM, "robot", "operator").await;
    let id = id_of(&bot);

    // A first login naming the account's username provisions a person of
    // another name; the account is untouched.
    let result = sso_login(&s, "sub-robot", "robot").await;
    assert_eq!(result.status, 302, "{result:?}");
    let session = result.cookie("kohakuriver_session").filter(|c| !c.is_empty()).expect("a session");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&session), None).await.json();
    assert_eq!(me["username"], "robot-2");
    assert_eq!(me["kind"], "human");
    assert_ne!(me["id"], id);
    assert_eq!(app.role_of(id).await, "operator");

    // Linking needs a session of one's own; a service account's token is refused outright.
    let token = mint_token(app, id, "sso").await;
    let refused = app.call(Method::POST, "/api/auth/oidc/test/link", Auth::Bearer(&token), None).await;
    refused.assert_error(StatusCode::FORBIDDEN, "service_account");
    let identities = app.call(Method::GET, "/api/auth/identities", Auth::Bearer(&token), None).await;
    assert_eq!(identities.json(), json!([]));

    // The link step itself refuses a service account, whoever reaches it.
    let stores = &app.state.stores;
    let provider = app.state.keys.oidc.get("test").expect("provider");
    let account = shared::users::get(stores, id).await.expect("read").expect("the account");
    let verified = shared::oidc::flow::Verified {
        provider: "test".into(),
        issuer: s.idp.issuer.clone(),
        subject: "sub-planted".into(),
        claims: serde_json::Map::new(),
        next: "/".into(),
        link_user: Some(id),
    };
    let client =
        shared::auth::ClientInfo { addr: "127.0.0.1".into(), user_agent: "krv-tests".into(), request_id: None };
    let linked = shared::oidc::provision::link_to(stores, provider, &verified, &account, &client).await;
    assert!(matches!(linked, Err(shared::oidc::OidcError::ServiceAccount)), "{linked:?}");

    // A link to it written behind the service's back still signs nobody in.
    let link = shared::oidc::store::Link {
        id: shared::oidc::store::identity_id(&s.idp.issuer, "sub-planted"),
        user_id: id,
        provider: "test".into(),
        issuer: s.idp.issuer.clone(),
        subject: "sub-planted".into(),
        email: None,
        linked_at: shared::types::Timestamp::now(),
    };
    let actions = link.put_actions(stores).expect("actions");
    assert!(shared::audit::actor::transact(stores, actions).await.is_ok(), "the planted link is written");
    let result = sso_login(&s, "sub-planted", "whoever").await;
    assert_eq!(result.status, 302, "{result:?}");
    let location = result.location.clone().expect("Location");
    assert!(location.starts_with("/login?sso_error="), "{location}");
    assert!(location.contains("service"), "{location}");
    assert!(result.cookie("kohakuriver_session").is_none_or(|c| c.is_empty()), "no session: {result:?}");
    let failures: Vec<Value> = audited(app, "oidc:test")
        .await
        .into_iter()
        .filter(|e| e["action"] == "auth.login" && e["reason"] == "service_account")
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_managers_of_the_owning_group_mint_its_tokens_while_they_manage_it() {
    let app = TestApp::start().await;
    let group = app.create_group(SYSTEM, "ci-team").await;
    let lead = app.with_user_in_group("lead", "user", group).await;
    let other = app.with_user_in_group("other", "user", group).await;
    let managers = format!("/api/auth/groups/{group}/managers/{}", lead.id);
    app.call(Method::PUT, &managers, SYSTEM, None).await.assert_status(StatusCode::OK);
    let owned =
        id_of(&post_account(&app, SYSTEM, &json!({"name": "ci-bot", "role": "user", "group_id": group})).await.json());
    let strong = post_account(&app, SYSTEM, &json!({"name": "ci-op", "role": "operator", "group_id": group})).await;
    let strong = id_of(&strong.json());
    let unowned = id_of(&create_account(&app, SYSTEM, "lone-bot", "user").await);

    // The manager mints for the group's account of role user; the token acts as it.
    let minted = mint(&app, lead.auth(), owned, &json!({"name": "deploy", "scopes": ["read"]})).await;
    minted.assert_status(StatusCode::CREATED);
    let secret = minted.json()["token"].as_str().expect("secret").to_owned();
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&secret), None).await.json();
    assert_eq!(me["username"], "ci-bot");
    // Not for an operator account (more than a manager may hand out), not
    // for another group's or no group's account, not for a mere member.
    for (who, id) in [(&lead, strong), (&lead, unowned), (&other, owned)] {
        mint(&app, who.auth(), id, &json!({"name": "x"}))
            .await
            .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    }
    // Unmade, the manager mints no more.
    app.call(Method::DELETE, &managers, SYSTEM, None).await.assert_status(StatusCode::OK);
    mint(&app, lead.auth(), owned, &json!({"name": "again"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
}
