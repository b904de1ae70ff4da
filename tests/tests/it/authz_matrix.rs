//! Walks `tests/authz/matrix.toml`: every route the local server exposes, for
//! every kind of caller, must answer the status the matrix lists.

use std::collections::{BTreeMap, BTreeSet};

use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, TestApp};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Matrix {
    defaults: BTreeMap<String, BTreeMap<String, u16>>,
    route: Vec<Route>,
}

#[derive(Deserialize)]
struct Route {
    method: String,
    path: String,
    /// The scope an API token needs here (`none`: no scope).
    scope: String,
    request: Option<String>,
    body: Option<String>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Expect {
    Named(String),
    Table(BTreeMap<String, u16>),
}

/// `manager`: a `user` who manages a group the victim is in, for the
/// requests that name the victim's group or tasks (see [`managed_group`]).
const CALLERS: [&str; 11] = [
    "anonymous",
    "viewer",
    "user",
    "manager",
    "operator",
    "admin",
    "admin_secret",
    "wrong_admin_secret",
    "expired_session",
    "revoked_token",
    "deactivated_user",
];

/// Token callers: API tokens of the admin (so the role never limits them),
/// each holding one scope. `admin_token` (`inherit`) answers as `admin`
/// unless a route lists it; a token whose scope covers the route's answers
/// as `admin_token`, any other 403 `insufficient_scope`.
const TOKEN_CALLERS: [(&str, &str); 8] = [
    ("admin_token", "inherit"),
    ("token_read", "read"),
    ("token_tasks_submit", "tasks:submit"),
    ("token_tasks_approve", "tasks:approve"),
    ("token_vps_connect", "vps:connect"),
    ("token_vps_manage", "vps:manage"),
    ("token_users_admin", "users:admin"),
    ("token_tokens_manage", "tokens:manage"),
];

/// Whether a token holding `held` may call a route needing `needed`
/// (docs/tokens.md: `inherit` holds all, `vps:manage` implies `vps:connect`).
fn covers(held: &str, needed: &str) -> bool {
    needed == "none" || held == "inherit" || held == needed || (held == "vps:manage" && needed == "vps:connect")
}

fn load() -> Matrix {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("authz/matrix.toml");
    let text = std::fs::read_to_string(&path).expect("matrix file");
    toml::from_str(&text).expect("matrix parses")
}

/// The fixture users and the credentials that do not change per call.
struct Fixture {
    ids: BTreeMap<&'static str, u64>,
    expired: String,
    deactivated: String,
    revoked: String,
    /// Each token caller's secret.
    tokens: BTreeMap<&'static str, String>,
}

async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.first_admin("m-admin").await;
    let mut ids = BTreeMap::new();
    for (caller, role) in [("viewer", "viewer"), ("user", "user"), ("manager", "user"), ("operator", "operator")] {
        ids.insert(caller, app.create_user(&admin, &format!("m-{caller}"), role).await);
    }
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&admin), None).await.json();
    ids.insert("admin", me["id"].as_u64().expect("admin id"));
    ids.insert("admin_secret", 0);

    let deact_id = app.create_user(&admin, "m-deactivated", "user").await;
    let deact_session = app.login("m-deactivated").await;
    let deactivated = app.create_token(&deact_session, "suspended").await.0;
    let path = format!("/api/auth/users/{deact_id}");
    app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"is_active": false})))
        .await
        .assert_status(StatusCode::OK);

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expired = app.state.keys.sessions.issue(ids["user"], now - 120, now - 60).expect("token").token;
    let user_session = app.login("m-user").await;
    let (revoked, revoked_id) = app.create_token(&user_session, "revoked").await;
    app.call(Method::DELETE, &format!("/api/auth/tokens/{revoked_id}"), Auth::Bearer(&user_session), None)
        .await
        .assert_status(StatusCode::OK);
    let mut tokens = BTreeMap::new();
    for (caller, scope) in TOKEN_CALLERS {
        let body = json!({"name": caller, "scopes": [scope]});
        let created = app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&admin), Some(&body)).await;
        created.assert_status(StatusCode::CREATED);
        tokens.insert(caller, created.json()["token"].as_str().expect("secret").to_owned());
        ids.insert(caller, ids["admin"]);
    }
    Fixture { ids, expired, deactivated, revoked, tokens }
}

/// For the `manager` caller, on a request naming the victim's group or tasks:
/// makes the manager a manager of a group the victim is in (the victim's
/// group when there is one), so that a manager's rights show; returns it.
async fn managed_group(
    app: &TestApp,
    fx: &Fixture,
    request: &str,
    victim: u64,
    victim_group: &str,
    counter: usize,
) -> Option<u64> {
    let secret = Auth::AdminSecret(ADMIN_SECRET);
    let group = if let Ok(gid) = victim_group.parse::<u64>() {
        gid
    } else if ["{victim_task}", "{victim_assigning_task}"].iter().any(|p| request.contains(p)) {
        let gid = app.create_group(secret, &format!("mgrgroup{counter}")).await;
        app.add_member(secret, gid, victim).await;
        gid
    } else {
        return None;
    };
    let path = format!("/api/auth/groups/{group}/managers/{}", fx.ids["manager"]);
    app.call(Method::PUT, &path, secret, None).await.assert_status(StatusCode::OK);
    Some(group)
}

fn substitute(text: &str, vars: &[(&str, String)]) -> String {
    vars.iter().fold(text.to_owned(), |acc, (k, v)| acc.replace(k, v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_kind_of_caller_as_the_matrix_says() {
    let matrix = load();
    // A relying party, so the passkey routes answer by caller rather than 503.
    let app = TestApp::builder().env("PUBLIC_URL", "http://localhost").build().await;
    let fx = fixture(&app).await;

    // Coverage both ways: every served route is in the matrix, every matrix route is served.
    let served: BTreeSet<(String, String)> =
        TestApp::routes().list().iter().map(|r| (r.method.to_string(), r.path.to_owned())).collect();
    let listed: BTreeSet<(String, String)> = matrix.route.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    let missing: Vec<_> = served.difference(&listed).collect();
    assert!(missing.is_empty(), "routes missing from tests/authz/matrix.toml: {missing:?}");
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(stale.is_empty(), "matrix routes the server does not serve: {stale:?}");

    let mut failures = Vec::new();
    let mut counter = 0;
    for route in &matrix.route {
        let expect = match &route.expect {
            Expect::Named(name) => matrix.defaults.get(name).unwrap_or_else(|| panic!("no defaults.{name}")).clone(),
            Expect::Table(table) => table.clone(),
        };
        let token_callers = TOKEN_CALLERS.iter().map(|(caller, _)| *caller);
        for caller in CALLERS.into_iter().chain(token_callers) {
            let expected = match TOKEN_CALLERS.iter().find(|(c, _)| *c == caller) {
                Some((_, held)) if !covers(held, &route.scope) => 403,
                Some(_) => *expect.get("admin_token").or_else(|| expect.get("admin")).expect("admin"),
                None => *expect.get(caller).unwrap_or_else(|| panic!("{} {}: no {caller}", route.method, route.path)),
            };
            counter += 1;
            let victim_name = format!("victim{counter}");
            let victim = app.create_user_as(Auth::AdminSecret(ADMIN_SECRET), &victim_name, "user").await;
            let victim_token = if route.request.as_deref().is_some_and(|r| r.contains("{victim_token}")) {
                let session = app.login(&victim_name).await;
                app.create_token(&session, "victim-token").await.1.to_string()
            } else {
                String::new()
            };
            let request = route.request.as_deref().unwrap_or_default();
            let secret = Auth::AdminSecret(ADMIN_SECRET);
            let victim_group = if request.contains("{victim_group}") {
                let gid = app.create_group(secret, &format!("group{counter}")).await;
                app.add_member(secret, gid, victim).await;
                gid.to_string()
            } else {
                String::new()
            };
            let victim_managed_group = if request.contains("{victim_managed_group}") {
                let gid = app.create_group(secret, &format!("managedgroup{counter}")).await;
                let path = format!("/api/auth/groups/{gid}/managers/{victim}");
                app.call(Method::PUT, &path, secret, None).await.assert_status(StatusCode::OK);
                gid.to_string()
            } else {
                String::new()
            };
            let managed = if caller == "manager" {
                managed_group(&app, &fx, request, victim, &victim_group, counter).await
            } else {
                None
            };
            let victim_service = if request.contains("{victim_service}") {
                let body = json!({"name": format!("svc{counter}"), "role": "user"});
                let created = app.call(Method::POST, "/api/auth/service-accounts", secret, Some(&body)).await;
                created.assert_status(StatusCode::CREATED);
                created.json()["id"].as_u64().expect("service account id").to_string()
            } else {
                String::new()
            };
            let victim_invitation = if request.contains("{victim_invitation}") {
                let inv =
                    app.call(Method::POST, "/api/auth/invitations", secret, Some(&json!({"role": "viewer"}))).await;
                inv.json()["id"].as_u64().expect("invitation id").to_string()
            } else {
                String::new()
            };
            let extra_user = if request.contains("{self_or_victim}") {
                app.create_user_as(secret, &format!("extra{counter}"), "user").await.to_string()
            } else {
                String::new()
            };
            let victim_task = if request.contains("{victim_task}") || request.contains("{victim_assigning_task}") {
                let session = app.login(&victim_name).await;
                let submitted = app
                    .call(Method::POST, "/api/tasks", Auth::Bearer(&session), Some(&json!({"command": "sleep 1"})))
                    .await;
                let id = krv_tests::task_id(&submitted);
                if request.contains("{victim_assigning_task}") {
                    app.call(Method::POST, &format!("/api/approve/{id}"), secret, None)
                        .await
                        .assert_status(StatusCode::OK);
                }
                id
            } else {
                String::new()
            };
            let own_vps = if route.body.as_deref().is_some_and(|b| b.contains("{own_vps}")) {
                // A running VPS assigned to the caller itself (to nobody for callers without a user).
                let vps_id = app.submit_task(secret, &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).await;
                if let Some(me) = fx.ids.get(caller).filter(|id| **id != 0) {
                    app.call(Method::POST, &format!("/api/vps/{vps_id}/assign"), secret, Some(&json!([me])))
                        .await
                        .assert_status(StatusCode::OK);
                }
                vps_id
            } else {
                String::new()
            };
            let uses_vps =
                request.contains("{victim_vps") || route.body.as_deref().is_some_and(|b| b.contains("{victim_vps}"));
            let (victim_vps, victim_vps_group) = if uses_vps {
                let vps_id = app.submit_task(secret, &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA"})).await;
                let gid = app.create_group(secret, &format!("vpsgroup{counter}")).await;
                let body = json!({"user_ids": [victim], "group_ids": [gid]});
                app.call(Method::POST, &format!("/api/vps/{vps_id}/assign"), secret, Some(&body))
                    .await
                    .assert_status(StatusCode::OK);
                (vps_id, gid.to_string())
            } else {
                (String::new(), String::new())
            };
            let vars = [
                ("{own_vps}", own_vps),
                ("{victim_vps_group}", victim_vps_group),
                ("{victim_vps}", victim_vps),
                ("{victim_assigning_task}", victim_task.clone()),
                ("{victim_task}", victim_task),
                ("{victim_managed_group}", victim_managed_group),
                ("{victim_group}", victim_group),
                ("{victim_service}", victim_service),
                ("{victim_invitation}", victim_invitation),
                ("{self_or_victim}", extra_user),
                ("{victim_name}", victim_name.clone()),
                ("{victim_token}", victim_token),
                ("{victim}", victim.to_string()),
                ("{fresh_name}", format!("fresh{counter}")),
                ("{self}", fx.ids.get(caller).map_or_else(|| "999999".to_owned(), u64::to_string)),
            ];
            let path = substitute(route.request.as_deref().unwrap_or(&route.path), &vars);
            let body: Option<Value> =
                route.body.as_deref().map(|b| serde_json::from_str(&substitute(b, &vars)).expect("body is JSON"));
            // Fresh sessions per call, so a logout or password change cannot disturb later calls.
            let session = match caller {
                "viewer" | "user" | "manager" | "operator" => Some(app.login(&format!("m-{caller}")).await),
                "admin" => Some(app.login("m-admin").await),
                _ => None,
            };
            let auth = match caller {
                "anonymous" => Auth::None,
                "admin_secret" => Auth::AdminSecret(ADMIN_SECRET),
                "wrong_admin_secret" => Auth::AdminSecret("wrong-admin-secret-value"),
                "expired_session" => Auth::Cookie(&fx.expired),
                "revoked_token" => Auth::Bearer(&fx.revoked),
                "deactivated_user" => Auth::Bearer(&fx.deactivated),
                _ if fx.tokens.contains_key(caller) => Auth::Bearer(&fx.tokens[caller]),
                _ => Auth::Bearer(session.as_deref().expect("session")),
            };
            let method: Method = route.method.parse().expect("method");
            let response = app.call(method, &path, auth, body.as_ref()).await;
            if let Some(group) = managed {
                // Leaves the group, so the manager's own groups stay few.
                let path = format!("/api/auth/groups/{group}/members/{}", fx.ids["manager"]);
                app.call(Method::DELETE, &path, Auth::AdminSecret(ADMIN_SECRET), None).await;
            }
            if response.status.as_u16() != expected {
                failures.push(format!(
                    "{} {path} as {caller}: expected {expected}, got {} {}",
                    route.method,
                    response.status,
                    String::from_utf8_lossy(&response.bytes)
                ));
            } else if !response.status.is_success() && !response.status.is_redirection() {
                // Errors carry `detail`; the browser flows of single sign-on answer redirects.
                let body = response.json();
                assert!(
                    body["detail"].is_string(),
                    "{} {path} as {caller}: error without detail: {body}",
                    route.method
                );
                // A token refused for its scope says so (not a role refusal).
                let scope_refused = TOKEN_CALLERS.iter().any(|(c, held)| *c == caller && !covers(held, &route.scope));
                if scope_refused {
                    assert_eq!(body["code"], "insufficient_scope", "{} {path} as {caller}: {body}", route.method);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    // The password route set each user's password to itself; the fixtures still log in.
    let again = json!({"username": "m-user", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&again)).await.assert_status(StatusCode::OK);
}
