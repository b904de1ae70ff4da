//! Single sign-on (SPEC §11) against a real OpenID provider (the
//! `oidc-provider` npm package on loopback, `krv_tests::TestIdp`): first
//! logins provision, later logins map role and groups again (promotion,
//! demotion, the last-admin guard), refused provisioning, every misuse of
//! `state`, `nonce` and the ID token refused, concurrent first logins make
//! one user, linking and unlinking (with the last-way guard), `next` kept
//! same-origin, the provider's second-factor credit, RP-initiated logout,
//! the discovery cache and the configuration checks.

use std::net::SocketAddr;

use http::{Method, StatusCode};
use krv_tests::{Auth, IdpClient, PASSWORD, SYSTEM, TestApp, TestIdp, TestUser};
use serde_json::{Value, json};
use shared::config::Config;
use shared::env::Env;

const SECRET: &str = "krv-client-secret-for-the-tests";

/// Our service on a real socket (the provider redirects the browser to it),
/// configured with providers on a provider of its own.
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

/// The provider `id` on `issuer` with `extra` settings merged in.
fn provider(id: &str, issuer: &str, extra: &Value) -> Value {
    let mut p = json!({
        "id": id, "name": format!("IdP {id}"), "issuer": issuer, "client_id": "krv",
        "client_secret_env": "TEST_IDP_SECRET", "provision": true, "max_role": "admin",
        "roles": [
            {"claim": "groups", "contains": "hpc-admins", "role": "admin"},
            {"claim": "groups", "contains": "ops", "role": "operator"},
        ],
        "groups": [
            {"claim": "groups", "contains": "team-a", "group": "team-a"},
            {"claim": "groups", "contains": "team-b", "group": "team-b"},
        ],
    });
    for (k, v) in extra.as_object().expect("object") {
        p[k] = v.clone();
    }
    p
}

/// Starts the provider and our service with the providers `providers(issuer)`.
async fn setup(providers: impl Fn(&str) -> Vec<Value>, env: &[(&str, &str)]) -> Sso {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let redirect_uris =
        ["test", "other", "plain", "first"].iter().map(|id| format!("{base}/api/auth/oidc/{id}/callback")).collect();
    let client = IdpClient {
        client_id: "krv".into(),
        client_secret: SECRET.into(),
        redirect_uris,
        post_logout_redirect_uris: vec![format!("{base}/login")],
    };
    let idp = TestIdp::start(vec![client]).await.expect("the OpenID provider starts");
    let list = Value::Array(providers(&idp.issuer)).to_string();
    let app = TestApp::builder()
        .env("PUBLIC_URL", &base)
        .env("OIDC_PROVIDERS", &list)
        .env("TEST_IDP_SECRET", SECRET)
        .envs(env)
        .build()
        .await;
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    Sso { app, idp, base, server }
}

async fn standard() -> Sso {
    setup(|issuer| vec![provider("test", issuer, &json!({}))], &[]).await
}

/// A whole browser login at `provider` as `sub` with `claims`, landing on `next`.
async fn login_at(s: &Sso, provider: &str, sub: &str, claims: Value, next: &str) -> krv_tests::BrowseResult {
    s.idp.next_login(sub, claims).await.expect("next login");
    let start = format!("{}/api/auth/oidc/{provider}/start?next={}", s.base, urlencode(next));
    s.idp.browse(&start, None).await.expect("the browser gets back to us")
}

async fn login(s: &Sso, sub: &str, claims: Value) -> krv_tests::BrowseResult {
    login_at(s, "test", sub, claims, "/tasks").await
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The session token a successful callback set.
fn session(result: &krv_tests::BrowseResult) -> String {
    assert_eq!(result.status, 302, "{result:?}");
    result.cookie("kohakuriver_session").filter(|c| !c.is_empty()).unwrap_or_else(|| panic!("no session: {result:?}"))
}

/// The login page's error of a refused callback (and no session).
fn refused(result: &krv_tests::BrowseResult) -> String {
    assert_eq!(result.status, 302, "{result:?}");
    let location = result.location.clone().expect("a Location");
    assert!(location.starts_with("/login?sso_error="), "{location}");
    assert!(result.cookie("kohakuriver_session").is_none_or(|c| c.is_empty()), "no session: {result:?}");
    decode(location.trim_start_matches("/login?sso_error="))
}

/// A query value percent-decoded (`+` as a space).
fn decode(value: &str) -> String {
    let bytes = value.replace('+', " ");
    let mut out = Vec::new();
    let raw = bytes.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(Ok(b)) = bytes.get(i + 1..i + 3).map(|hex| u8::from_str_radix(hex, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.call(Method::GET, "/api/auth/me", Auth::Bearer(token), None).await;
    response.assert_status(StatusCode::OK);
    response.json()
}

fn group_names(me: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        me["groups"].as_array().expect("groups").iter().map(|g| g["name"].as_str().expect("name").to_owned()).collect();
    names.sort();
    names
}

async fn identities(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app.call(Method::GET, "/api/auth/identities", Auth::Bearer(token), None).await;
    response.assert_status(StatusCode::OK);
    response.json().as_array().expect("list").clone()
}

async fn users(app: &TestApp) -> Vec<Value> {
    let response = app.call(Method::GET, "/api/auth/users", SYSTEM, None).await;
    response.assert_status(StatusCode::OK);
    response.json().as_array().expect("list").clone()
}

#[tokio::test]
async fn a_first_login_provisions_the_user_with_role_and_groups_from_the_claims() {
    let s = standard().await;
    s.app.create_group(SYSTEM, "team-a").await;
    s.app.create_group(SYSTEM, "team-b").await;
    let claims = json!({"preferred_username": "alice", "name": "Alice Liddell", "email": "alice@example.org",
                        "groups": ["team-a", "ops", "unrelated"]});
    let result = login(&s, "sub-alice", claims).await;
    let token = session(&result);
    assert_eq!(result.location.as_deref(), Some("/tasks"), "lands on next");
    assert!(result.set_cookies.iter().any(|c| c.starts_with("kohakuriver_sso=;")), "the binding cookie is cleared");
    let me = me(&s.app, &token).await;
    assert_eq!(me["username"], "alice");
    assert_eq!(me["display_name"], "Alice Liddell");
    assert_eq!(me["role"], "operator", "{me}");
    assert_eq!(group_names(&me), ["team-a"]);
    let linked = identities(&s.app, &token).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "test");
    assert_eq!(linked[0]["subject"], "sub-alice");
    assert_eq!(linked[0]["issuer"], s.idp.issuer.as_str());
    assert_eq!(linked[0]["email"], "alice@example.org");
    // No password: a password login fails exactly as a wrong password does.
    let attempt = s.app.login_attempt("alice", "", "127.0.0.9").await;
    attempt.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let attempt = s.app.login_attempt("alice", PASSWORD, "127.0.0.9").await;
    attempt.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    // A second login of the identity is the same user; a taken username gets a suffix.
    let again = session(&login(&s, "sub-alice", json!({"preferred_username": "alice"})).await);
    assert_eq!(me_id(&s.app, &again).await, me["id"].as_u64().expect("id"));
    let other = session(&login(&s, "sub-other-alice", json!({"preferred_username": "Alice"})).await);
    assert_eq!(self::me(&s.app, &other).await["username"], "Alice-2");
}

async fn me_id(app: &TestApp, token: &str) -> u64 {
    me(app, token).await["id"].as_u64().expect("id")
}

#[tokio::test]
async fn later_logins_map_role_and_managed_groups_again_promotion_and_demotion() {
    let s = standard().await;
    let _admin = s.app.with_admin().await;
    s.app.create_group(SYSTEM, "team-a").await;
    s.app.create_group(SYSTEM, "team-b").await;
    let manual = s.app.create_group(SYSTEM, "manual").await;
    let first = session(&login(&s, "sub-bob", json!({"preferred_username": "bob", "groups": ["team-a"]})).await);
    let id = me_id(&s.app, &first).await;
    assert_eq!(me(&s.app, &first).await["role"], "user", "the default role");
    s.app.add_member(SYSTEM, manual, id).await;

    // Promotion: the provider now says admin, and team-b instead of team-a.
    let token =
        session(&login(&s, "sub-bob", json!({"preferred_username": "bob", "groups": ["team-b", "hpc-admins"]})).await);
    let now = me(&s.app, &token).await;
    assert_eq!(now["role"], "admin");
    assert_eq!(group_names(&now), ["manual", "team-b"], "managed groups follow; the admin's group stays");

    // Demotion at the provider demotes here at the next login.
    let token = session(&login(&s, "sub-bob", json!({"preferred_username": "bob", "groups": []})).await);
    let now = me(&s.app, &token).await;
    assert_eq!(now["role"], "user");
    assert_eq!(group_names(&now), ["manual"]);
    let audit = s.app.call(Method::GET, "/api/admin/audit?action=user.role_change", SYSTEM, None).await;
    audit.assert_status(StatusCode::OK);
    let events = audit.json();
    let changes: Vec<&Value> = events.as_array().expect("list").iter().filter(|e| e["actor"] == "_system").collect();
    assert_eq!(changes.len(), 2, "promotion and demotion audited as the provider's sync: {events}");
    assert!(changes.iter().all(|e| e["detail"].as_str().is_some_and(|d| d.contains("single sign-on sync (test)"))));
}

#[tokio::test]
async fn a_demotion_of_the_last_admin_refuses_the_login_and_keeps_the_admin() {
    let s = standard().await;
    let token = session(&login(&s, "sub-root", json!({"preferred_username": "root", "groups": ["hpc-admins"]})).await);
    let id = me_id(&s.app, &token).await;
    assert_eq!(me(&s.app, &token).await["role"], "admin");
    let message = refused(&login(&s, "sub-root", json!({"preferred_username": "root", "groups": []})).await);
    assert!(message.contains("last active admin"), "{message}");
    assert_eq!(s.app.role_of(id).await, "admin");
}

#[tokio::test]
async fn first_login_sync_maps_only_once() {
    let s = setup(|issuer| vec![provider("first", issuer, &json!({"sync": "first_login"}))], &[]).await;
    let claims = json!({"preferred_username": "carl", "groups": ["ops"]});
    let token = session(&login_at(&s, "first", "sub-carl", claims, "/").await);
    assert_eq!(me(&s.app, &token).await["role"], "operator");
    let claims = json!({"preferred_username": "carl", "groups": ["hpc-admins"]});
    let token = session(&login_at(&s, "first", "sub-carl", claims, "/").await);
    assert_eq!(me(&s.app, &token).await["role"], "operator", "not mapped again");
}

#[tokio::test]
async fn provisioning_is_refused_where_the_provider_does_not_allow_it() {
    let s = setup(|issuer| vec![provider("test", issuer, &json!({"provision": false}))], &[]).await;
    let message = refused(&login(&s, "sub-eve", json!({"preferred_username": "eve"})).await);
    assert!(message.contains("does not create accounts"), "{message}");
    assert!(users(&s.app).await.is_empty(), "nobody was created");
    // Never linked by a matching email either.
    s.app.with_user("eve", "user").await;
    let message =
        refused(&login(&s, "sub-eve", json!({"preferred_username": "eve", "email": "eve@example.org"})).await);
    assert!(message.contains("does not create accounts"), "{message}");
}

#[tokio::test]
async fn a_replayed_state_is_refused() {
    let s = standard().await;
    let result = login(&s, "sub-r", json!({"preferred_username": "replay"})).await;
    session(&result);
    let callback = result.callback_url.clone().expect("the callback URL");
    let path = callback.trim_start_matches(&s.base);
    let replay = s.app.request(Method::GET, path).send().await;
    assert_eq!(replay.status, StatusCode::FOUND);
    let location = replay.header("location").expect("Location");
    assert!(decode(location).contains("expired or was already used"), "{location}");
    assert!(replay.session_token().is_none());
}

/// Starts a flow through our router and lets the provider answer it: our
/// callback URL (path and query) and the binding cookie our start set.
async fn started(s: &Sso, provider: &str, sub: &str) -> (String, String) {
    s.idp.next_login(sub, json!({"preferred_username": sub})).await.expect("next login");
    let start = s.app.get(&format!("/api/auth/oidc/{provider}/start")).await;
    assert_eq!(start.status, StatusCode::FOUND);
    let binding = start
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("kohakuriver_sso="))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
        .expect("the binding cookie");
    let authorize = start.header("location").expect("to the provider").to_owned();
    assert!(authorize.starts_with(&s.idp.issuer), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="), "{authorize}");
    let back = s.idp.authorize(&authorize).await.expect("the provider answers");
    (back.trim_start_matches(&s.base).to_owned(), binding)
}

fn sso_error(response: &krv_tests::TestResponse) -> String {
    assert_eq!(response.status, StatusCode::FOUND, "{}", response.text());
    assert!(response.session_token().is_none(), "no session");
    let location = response.header("location").expect("Location");
    assert!(location.starts_with("/login?sso_error="), "{location}");
    decode(location)
}

#[tokio::test]
async fn a_foreign_state_from_another_browser_or_provider_is_refused() {
    let s =
        setup(|issuer| vec![provider("test", issuer, &json!({})), provider("other", issuer, &json!({}))], &[]).await;
    // Another browser: the callback comes without this flow's binding cookie.
    let (callback, _) = started(&s, "test", "sub-f1").await;
    let answer = s.app.request(Method::GET, &callback).send().await;
    assert!(sso_error(&answer).contains("another browser"));
    let (callback, _) = started(&s, "test", "sub-f2").await;
    let answer = s
        .app
        .request(Method::GET, &callback)
        .header("cookie", &format!("kohakuriver_sso={}", "x".repeat(43)))
        .send()
        .await;
    assert!(sso_error(&answer).contains("another browser"), "a different binding");
    // Another provider: the state of a flow at `test` brought to `other`'s callback.
    let (callback, binding) = started(&s, "test", "sub-f3").await;
    let foreign = callback.replace("/oidc/test/", "/oidc/other/");
    let answer =
        s.app.request(Method::GET, &foreign).header("cookie", &format!("kohakuriver_sso={binding}")).send().await;
    assert!(sso_error(&answer).contains("expired or was already used"));
    // The same flow with its own browser works (the checks above refused for the reason named).
    let (callback, binding) = started(&s, "test", "sub-f4").await;
    let answer =
        s.app.request(Method::GET, &callback).header("cookie", &format!("kohakuriver_sso={binding}")).send().await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert!(answer.session_token().is_some(), "{:?}", answer.header("location"));
    assert_eq!(users(&s.app).await.len(), 1, "only the last flow made a user");
}

#[tokio::test]
async fn tampered_id_tokens_are_refused() {
    let s = standard().await;
    for (mode, reason) in [
        ("wrong_nonce", "wrong nonce"),
        ("expired", "expired"),
        ("wrong_audience", "wrong audience"),
        ("other_key", "bad signature"),
        ("wrong_issuer", "wrong issuer"),
    ] {
        s.idp.tamper(mode).await.expect("tamper");
        let message = refused(&login(&s, &format!("sub-{mode}"), json!({"preferred_username": mode})).await);
        assert!(message.contains(reason), "{mode}: {message}");
    }
    assert!(users(&s.app).await.is_empty(), "no tampered login made a user");
    // The same provider with an untouched token works.
    session(&login(&s, "sub-fine", json!({"preferred_username": "fine"})).await);
}

#[tokio::test]
async fn concurrent_first_logins_of_one_identity_make_one_user() {
    let s = standard().await;
    const N: usize = 10;
    for _ in 0..N {
        s.idp.next_login("sub-crowd", json!({"preferred_username": "crowd"})).await.expect("next login");
    }
    let start = format!("{}/api/auth/oidc/test/start", s.base);
    let flows = (0..N).map(|_| s.idp.browse(&start, None));
    let results = futures::future::join_all(flows).await;
    let mut ids = std::collections::BTreeSet::new();
    for result in results {
        let token = session(&result.expect("browse"));
        ids.insert(me_id(&s.app, &token).await);
    }
    assert_eq!(ids.len(), 1, "every login is the same user");
    let all = users(&s.app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["username"], "crowd");
    let links = s.app.scan(&s.app.state.stores.tables.identity).await;
    let identity_items = links
        .iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| p.starts_with("IDENTITY#")))
        .count();
    assert_eq!(identity_items, 1);
}

/// Links the identity `sub` to `user` through the linking flow; the callback's answer.
async fn link(s: &Sso, user: &TestUser, sub: &str) -> krv_tests::TestResponse {
    let response = s.app.call(Method::POST, "/api/auth/oidc/test/link?next=/account", user.auth(), None).await;
    response.assert_status(StatusCode::OK);
    let url = response.json()["url"].as_str().expect("url").to_owned();
    s.idp.next_login(sub, json!({"preferred_username": format!("{sub}-name")})).await.expect("next login");
    let back = s.idp.authorize(&url).await.expect("the provider answers");
    let path = back.trim_start_matches(&s.base).to_owned();
    s.app.request(Method::GET, &path).auth(Auth::Cookie(&user.token)).send().await
}

#[tokio::test]
async fn a_logged_in_user_links_an_identity_and_then_logs_in_with_it() {
    let s = standard().await;
    let dave = s.app.with_user("dave", "user").await;
    let answer = link(&s, &dave, "sub-dave").await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.header("location"), Some("/account"));
    let linked = identities(&s.app, &dave.token).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["subject"], "sub-dave");
    let token = session(&login(&s, "sub-dave", json!({"preferred_username": "someone-else"})).await);
    assert_eq!(me_id(&s.app, &token).await, dave.id, "logs in as the linked user, no provisioning");
    assert_eq!(users(&s.app).await.len(), 1);
    // An identity linked to someone is never linked to another.
    let erin = s.app.with_user("erin", "user").await;
    let answer = link(&s, &erin, "sub-dave").await;
    assert!(sso_error(&answer).contains("already linked to another account"));
    // The linking flow belongs to the session that started it.
    let response = s.app.call(Method::POST, "/api/auth/oidc/test/link", erin.auth(), None).await;
    let url = response.json()["url"].as_str().expect("url").to_owned();
    s.idp.next_login("sub-erin", json!({})).await.expect("next login");
    let back = s.idp.authorize(&url).await.expect("the provider answers");
    let path = back.trim_start_matches(&s.base).to_owned();
    let answer = s.app.request(Method::GET, &path).auth(Auth::Cookie(&dave.token)).send().await;
    assert!(sso_error(&answer).contains("another browser"));
    assert!(identities(&s.app, &erin.token).await.is_empty());
}

#[tokio::test]
async fn unlinking_never_removes_the_last_way_to_log_in() {
    let s = standard().await;
    let token = session(&login(&s, "sub-only", json!({"preferred_username": "only"})).await);
    let first = identities(&s.app, &token).await[0]["id"].as_str().expect("id").to_owned();
    let answer = s.app.call(Method::DELETE, &format!("/api/auth/identities/{first}"), Auth::Bearer(&token), None).await;
    answer.assert_error(StatusCode::CONFLICT, "last_login_method");
    // With a second identity, either may go, but not both.
    let user = TestUser { id: me_id(&s.app, &token).await, name: "only".into(), token: token.clone() };
    let linked = link(&s, &user, "sub-only-2").await;
    assert_eq!(linked.status, StatusCode::FOUND);
    assert_eq!(identities(&s.app, &token).await.len(), 2);
    let answer = s.app.call(Method::DELETE, &format!("/api/auth/identities/{first}"), Auth::Bearer(&token), None).await;
    answer.assert_status(StatusCode::OK);
    let second = identities(&s.app, &token).await[0]["id"].as_str().expect("id").to_owned();
    let answer =
        s.app.call(Method::DELETE, &format!("/api/auth/identities/{second}"), Auth::Bearer(&token), None).await;
    answer.assert_error(StatusCode::CONFLICT, "last_login_method");
    // A user with a password may unlink their only identity.
    let dave = s.app.with_user("dave", "user").await;
    link(&s, &dave, "sub-dave").await;
    let id = identities(&s.app, &dave.token).await[0]["id"].as_str().expect("id").to_owned();
    let answer = s.app.call(Method::DELETE, &format!("/api/auth/identities/{id}"), dave.auth(), None).await;
    answer.assert_status(StatusCode::OK);
    assert!(identities(&s.app, &dave.token).await.is_empty());
    let unknown = s.app.call(Method::DELETE, &format!("/api/auth/identities/{id}"), dave.auth(), None).await;
    unknown.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn concurrent_unlinks_of_the_last_two_identities_leave_one() {
    let s = standard().await;
    for trial in 0..5 {
        let sub = format!("sub-pair-{trial}");
        let token = session(&login(&s, &sub, json!({"preferred_username": format!("pair{trial}")})).await);
        let user = TestUser { id: me_id(&s.app, &token).await, name: format!("pair{trial}"), token: token.clone() };
        link(&s, &user, &format!("{sub}-b")).await;
        let ids: Vec<String> =
            identities(&s.app, &token).await.iter().map(|l| l["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(ids.len(), 2);
        let paths: Vec<String> = ids.iter().map(|id| format!("/api/auth/identities/{id}")).collect();
        let deletes = paths.iter().map(|path| s.app.call(Method::DELETE, path, Auth::Bearer(&token), None));
        let answers = futures::future::join_all(deletes).await;
        let ok = answers.iter().filter(|a| a.status == StatusCode::OK).count();
        assert_eq!(ok, 1, "trial {trial}: exactly one unlink may win");
        assert_eq!(identities(&s.app, &token).await.len(), 1);
    }
}

#[tokio::test]
async fn an_admin_unlinks_a_users_identity() {
    let s = standard().await;
    let admin = s.app.with_admin().await;
    let dave = s.app.with_user("dave", "user").await;
    link(&s, &dave, "sub-dave").await;
    let id = identities(&s.app, &dave.token).await[0]["id"].as_str().expect("id").to_owned();
    let path = format!("/api/auth/users/{}/identities/{id}", dave.id);
    let other = s.app.with_user("frank", "operator").await;
    s.app.call(Method::DELETE, &path, other.auth(), None).await.assert_status(StatusCode::FORBIDDEN);
    s.app.call(Method::DELETE, &path, admin.auth(), None).await.assert_status(StatusCode::OK);
    assert!(identities(&s.app, &dave.token).await.is_empty());
    // The same guard: an SSO-only user keeps their last identity.
    let token = session(&login(&s, "sub-sso", json!({"preferred_username": "sso"})).await);
    let uid = me_id(&s.app, &token).await;
    let iid = identities(&s.app, &token).await[0]["id"].as_str().expect("id").to_owned();
    let answer =
        s.app.call(Method::DELETE, &format!("/api/auth/users/{uid}/identities/{iid}"), admin.auth(), None).await;
    answer.assert_error(StatusCode::CONFLICT, "last_login_method");
    // Deleting the user removes its links: the identity provisions anew.
    s.app
        .call(Method::DELETE, &format!("/api/auth/users/{uid}"), admin.auth(), None)
        .await
        .assert_status(StatusCode::OK);
    let token = session(&login(&s, "sub-sso", json!({"preferred_username": "sso"})).await);
    assert_ne!(me_id(&s.app, &token).await, uid);
}

#[tokio::test]
async fn next_is_kept_to_paths_of_this_origin() {
    let s = standard().await;
    for (next, lands) in [
        ("/tasks?view=mine", "/tasks?view=mine"),
        ("https://evil.example/steal", "/"),
        ("//evil.example/steal", "/"),
        ("/\\evil.example", "/"),
    ] {
        let result = login_at(&s, "test", "sub-next", json!({"preferred_username": "nextuser"}), next).await;
        session(&result);
        assert_eq!(result.location.as_deref(), Some(lands), "next={next}");
    }
}

#[tokio::test]
async fn a_provider_login_satisfies_the_second_factor_policy_only_when_configured() {
    let mfa = json!({"mfa": {"amr_any": ["mfa", "otp"]}});
    let s = setup(
        |issuer| vec![provider("test", issuer, &mfa), provider("plain", issuer, &json!({}))],
        &[("MFA_REQUIRED_ROLE", "operator")],
    )
    .await;
    let claims = |amr: Value| json!({"preferred_username": "olga", "groups": ["ops"], "amr": amr});
    // The provider says a password only: the limited session of a user who must enrol.
    let token = session(&login(&s, "sub-olga", claims(json!(["pwd"]))).await);
    let answer = s.app.call(Method::GET, "/api/auth/users", Auth::Bearer(&token), None).await;
    answer.assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");
    // The provider vouches for a second factor by a configured `amr`.
    let token = session(&login(&s, "sub-olga", claims(json!(["pwd", "otp"]))).await);
    s.app.call(Method::GET, "/api/auth/users", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
    // The same `amr` at a provider without an `mfa` rule counts for nothing.
    let token = session(&login_at(&s, "plain", "sub-olga", claims(json!(["pwd", "otp"])), "/").await);
    let answer = s.app.call(Method::GET, "/api/auth/users", Auth::Bearer(&token), None).await;
    answer.assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");
}

#[tokio::test]
async fn a_user_with_a_factor_finishes_an_unvouched_provider_login_with_it() {
    let key = "mfa-test-encryption-key-0123456789abcdef";
    let s = setup(
        |issuer| vec![provider("test", issuer, &json!({"mfa": {"acr_any": ["gold"]}}))],
        &[("MFA_ENCRYPTION_KEY", key)],
    )
    .await;
    let dave = s.app.with_user("dave", "user").await;
    link(&s, &dave, "sub-dave").await;
    let enrol = s.app.call(Method::POST, "/api/auth/mfa/totp", dave.auth(), Some(&json!({"password": PASSWORD}))).await;
    enrol.assert_status(StatusCode::OK);
    let secret = totp_secret(enrol.json()["secret"].as_str().expect("secret"));
    let code = shared::mfa::totp::code_for_step(&secret, shared::mfa::totp::step_of(now_secs())).expect("code");
    s.app
        .call(Method::POST, "/api/auth/mfa/totp/confirm", dave.auth(), Some(&json!({"code": code})))
        .await
        .assert_status(StatusCode::OK);

    let result = login(&s, "sub-dave", json!({"acr": "silver"})).await;
    assert_eq!(result.status, 302);
    assert!(result.cookie("kohakuriver_session").is_none_or(|c| c.is_empty()), "no session before the factor");
    let location = result.location.clone().expect("Location");
    assert!(location.starts_with("/login?mfa_token="), "{location}");
    assert!(location.contains("methods=totp%2Crecovery"), "{location}");
    assert!(location.ends_with("&next=%2Ftasks"), "{location}");
    let token = decode(location.trim_start_matches("/login?mfa_token=").split('&').next().expect("token"));
    let step = shared::mfa::totp::step_of(now_secs()) + 1;
    let code = shared::mfa::totp::code_for_step(&secret, step).expect("code");
    let finish = s.app.json(Method::POST, "/api/auth/login/mfa", &json!({"mfa_token": token, "code": code})).await;
    finish.assert_status(StatusCode::OK);
    assert_eq!(finish.json()["user"]["id"], dave.id);
    // Vouched for by the provider (`acr` gold): the session comes at once.
    let token = session(&login(&s, "sub-dave", json!({"acr": "gold"})).await);
    assert_eq!(me_id(&s.app, &token).await, dave.id);
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// The raw TOTP secret from its base32 text.
fn totp_secret(text: &str) -> Vec<u8> {
    shared::mfa::totp::secret_from_base32(text).expect("base32 secret")
}

#[tokio::test]
async fn logout_of_a_provider_session_answers_the_providers_logout_url() {
    let s = setup(
        |issuer| vec![provider("test", issuer, &json!({"logout": true})), provider("plain", issuer, &json!({}))],
        &[],
    )
    .await;
    let token = session(&login(&s, "sub-lo", json!({"preferred_username": "lo"})).await);
    let answer = s.app.call(Method::POST, "/api/auth/logout", Auth::Bearer(&token), None).await;
    answer.assert_status(StatusCode::OK);
    let url = answer.json()["logout_url"].as_str().expect("logout_url").to_owned();
    assert!(url.starts_with(&format!("{}/session/end?client_id=krv", s.idp.issuer)), "{url}");
    assert!(decode(&url).ends_with(&format!("&post_logout_redirect_uri={}/login", s.base)), "{url}");
    let me = s.app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await;
    me.assert_status(StatusCode::UNAUTHORIZED);
    // A provider without logout, and a password session: no URL.
    let token = session(&login_at(&s, "plain", "sub-lo", json!({}), "/").await);
    let answer = s.app.call(Method::POST, "/api/auth/logout", Auth::Bearer(&token), None).await;
    assert!(answer.json().get("logout_url").is_none());
}

#[tokio::test]
async fn discovery_and_keys_are_cached_in_redis_for_the_next_flows() {
    let s = standard().await;
    session(&login(&s, "sub-c", json!({"preferred_username": "cached"})).await);
    let redis = &s.app.state.stores.redis;
    let doc_key = shared::oidc::discovery::key(redis, "test", "discovery");
    let jwks_key = shared::oidc::discovery::key(redis, "test", "jwks");
    for key in [&doc_key, &jwks_key] {
        let ttl: i64 = redis.query(redis::cmd("TTL").arg(key)).await.expect("ttl");
        assert!(ttl > 0, "{key} cached with a lifetime ({ttl})");
    }
    // Mark the cached document: the next flow uses it, not a fresh fetch.
    let doc: String = redis.query(redis::cmd("GET").arg(&doc_key)).await.expect("doc");
    let mut doc: Value = serde_json::from_str(&doc).expect("json");
    let endpoint = doc["authorization_endpoint"].as_str().expect("endpoint").to_owned();
    doc["authorization_endpoint"] = json!(format!("{endpoint}?from_cache=1"));
    redis.query::<()>(redis::cmd("SET").arg(&doc_key).arg(doc.to_string()).arg("EX").arg(600)).await.expect("set");
    let another = s.app.another_instance().await;
    let start = another.get("/api/auth/oidc/test/start").await;
    assert_eq!(start.status, StatusCode::FOUND);
    assert!(start.header("location").expect("Location").starts_with(&format!("{endpoint}?from_cache=1&")));
}

#[tokio::test]
async fn the_public_and_admin_views_of_the_providers() {
    let s =
        setup(|issuer| vec![provider("test", issuer, &json!({})), provider("other", issuer, &json!({}))], &[]).await;
    let list = s.app.get("/api/auth/oidc/providers").await;
    list.assert_status(StatusCode::OK);
    assert_eq!(list.json(), json!([{"id": "test", "name": "IdP test"}, {"id": "other", "name": "IdP other"}]));
    let user = s.app.with_user("viv", "operator").await;
    s.app
        .call(Method::GET, "/api/auth/oidc/providers/config", user.auth(), None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let config = s.app.call(Method::GET, "/api/auth/oidc/providers/config", SYSTEM, None).await;
    config.assert_status(StatusCode::OK);
    assert!(!config.text().contains(SECRET), "the secret never shows");
    let first = &config.json()[0];
    assert_eq!(first["client_secret"], "********");
    assert_eq!(first["client_secret_env"], "TEST_IDP_SECRET");
    assert_eq!(first["redirect_uri"], format!("{}/api/auth/oidc/test/callback", s.base));
    assert_eq!(first["roles"][0]["role"], "admin");
    // An unknown provider lands on the login page, not on a JSON error.
    let start = s.app.get("/api/auth/oidc/nope/start").await;
    assert_eq!(start.status, StatusCode::FOUND);
    assert!(decode(start.header("location").expect("Location")).contains("Unknown sign-in provider"));
}

#[test]
fn provider_configuration_problems_stop_the_start_naming_provider_and_field() {
    let base = |list: &str| {
        vec![
            ("SESSION_SIGNING_KEY", "0123456789abcdef0123456789abcdef".to_owned()),
            ("PUBLIC_URL", "https://krv.example".to_owned()),
            ("KC_SECRET", "x".to_owned()),
            ("OIDC_PROVIDERS", list.to_owned()),
        ]
    };
    let one = |extra: &str| {
        format!(
            r#"[{{"id":"kc","name":"Keycloak","issuer":"https://id.example","client_id":"krv","client_secret_env":"KC_SECRET"{extra}}}]"#
        )
    };
    Config::from(&Env::from_map(base(&one("")))).expect("valid");
    for (extra, expected) in [
        (r#","max_role":"root""#, "provider \"kc\": max_role"),
        (r#","groups":[{"claim":"groups","group":"x"}]"#, "missing field"),
        (r#","scope":["openid"]"#, "unknown field"),
    ] {
        let err = Config::from(&Env::from_map(base(&one(extra)))).expect_err(extra);
        assert_eq!(err.var, "OIDC_PROVIDERS", "{extra}");
        assert!(err.problem.contains(expected), "{extra}: {}", err.problem);
    }
    let plain_http = one("").replace("https://id.example", "http://id.example");
    let err = Config::from(&Env::from_map(base(&plain_http))).expect_err("plain http off loopback");
    assert!(err.problem.contains("provider \"kc\": issuer"), "{}", err.problem);
    let unset = one("").replace(r#""client_secret_env":"KC_SECRET""#, r#""client_secret_env":"MISSING""#);
    let err = Config::from(&Env::from_map(base(&unset))).expect_err("the secret's variable is unset");
    assert!(err.problem.contains("provider \"kc\": client_secret_env"), "{}", err.problem);
    let twice = format!("[{0},{0}]", &one("")[1..one("").len() - 1]);
    let err = Config::from(&Env::from_map(base(&twice))).expect_err("duplicate");
    assert!(err.problem.contains("used by two providers"), "{}", err.problem);
    let mut env = base(&one(""));
    env.retain(|(k, _)| *k != "PUBLIC_URL");
    assert_eq!(Config::from(&Env::from_map(env)).expect_err("no public url").var, "PUBLIC_URL");
    // A TOML file.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("providers.toml");
    std::fs::write(
        &path,
        "[[providers]]\nid = \"kc\"\nname = \"Keycloak\"\nissuer = \"https://id.example\"\nclient_id = \"krv\"\nclient_secret_env = \"KC_SECRET\"\n",
    )
    .expect("write");
    let config = Config::from(&Env::from_map(base(path.to_str().expect("path")))).expect("a TOML file");
    assert_eq!(config.oidc_providers[0].id, "kc");
}
