//! `kohakuriver auth login --sso PROVIDER` against a real OpenID provider
//! (`krv_tests::TestIdp`): the real binary prints the start URL
//! (`--no-browser`), the test plays the browser through the provider, our
//! callback and the hand-off to the binary's loopback listener, and the
//! binary ends logged in with a stored API token. Hand-off codes work once
//! and only with the `state` they were issued for.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use krv_tests::{IdpClient, TestApp, TestIdp};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr};

use super::Cli;

const SECRET: &str = "krv-client-secret-for-the-cli-tests";

/// Our service on a real socket with the provider `test` on a provider of its own.
struct Sso {
    _app: TestApp,
    idp: TestIdp,
    base: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sso {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn setup() -> Sso {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let client = IdpClient {
        client_id: "krv".into(),
        client_secret: SECRET.into(),
        redirect_uris: vec![format!("{base}/api/auth/oidc/test/callback")],
        post_logout_redirect_uris: vec![format!("{base}/login")],
    };
    let idp = TestIdp::start(vec![client]).await.expect("the OpenID provider starts");
    let providers = json!([{
        "id": "test", "name": "IdP", "issuer": idp.issuer, "client_id": "krv",
        "client_secret_env": "TEST_IDP_SECRET", "provision": true, "max_role": "admin",
        "roles": [{"claim": "groups", "contains": "ops", "role": "operator"}],
    }]);
    let app = TestApp::builder()
        .env("PUBLIC_URL", &base)
        .env("OIDC_PROVIDERS", &providers.to_string())
        .env("TEST_IDP_SECRET", SECRET)
        .build()
        .await;
    let router = app.router.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Sso { _app: app, idp, base, http, server }
}

/// `auth login --sso test --no-browser` running, and the URL it printed.
async fn start_cli(cli: &Cli) -> (Child, BufReader<ChildStderr>, String) {
    let mut child = tokio::process::Command::new(krv_tests::bins::binary("kohakuriver"))
        .args(["auth", "login", "--sso", "test", "--no-browser", "--token-name", "laptop"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cli.home.path())
        .env("XDG_CONFIG_HOME", cli.config_dir())
        .env("KOHAKURIVER_HOST", &cli.url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            line.clear();
            assert!(stderr.read_line(&mut line).await.expect("stderr") > 0, "the binary ended without a URL");
            if line.starts_with("http") {
                return line.trim().to_owned();
            }
        }
    })
    .await
    .expect("the binary prints the URL");
    (child, stderr, url)
}

/// The browser's login at the provider from the printed URL, then the
/// hand-off page with the new session: answers the loopback URL it redirects to.
async fn browse_to_loopback(s: &Sso, url: &str, sub: &str, name: &str) -> String {
    s.idp
        .next_login(sub, json!({"preferred_username": name, "email": format!("{name}@example.org"), "groups": ["ops"]}))
        .await
        .expect("next login");
    let landed = s.idp.browse(url, None).await.expect("the browser gets back to us");
    assert_eq!(landed.status, 302, "{landed:?}");
    let handoff = landed.location.clone().expect("a Location");
    assert!(handoff.starts_with("/api/auth/oidc/cli/handoff?"), "{handoff}");
    let response = s
        .http
        .get(format!("{}{handoff}", s.base))
        .header("cookie", landed.cookie_header())
        .send()
        .await
        .expect("hand-off");
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ASCII").to_owned();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    location
}

fn query_value(url: &str, name: &str) -> String {
    let query = url.split_once('?').expect("a query").1;
    query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).expect("the parameter").to_owned()
}

async fn exchange(s: &Sso, code: &str, state: &str) -> (u16, Value) {
    let response = s
        .http
        .post(format!("{}/api/auth/oidc/cli/exchange", s.base))
        .json(&json!({"code": code, "state": state}))
        .send()
        .await
        .expect("exchange");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sso_login_ends_with_a_stored_token_and_the_code_works_once() {
    let s = setup().await;
    let cli = Cli::new(&s.base);
    let (mut child, mut stderr, url) = start_cli(&cli).await;
    assert!(url.starts_with(&format!("{}/api/auth/oidc/test/start?next=", s.base)), "{url}");
    let loopback = browse_to_loopback(&s, &url, "sub-alice", "alice").await;

    // A request with another state does not end the wait.
    let port_base = loopback.split("/callback").next().expect("base");
    let stray = s.http.get(format!("{port_base}/callback?code=forged&state=wrong")).send().await.expect("stray");
    assert_eq!(stray.status(), 400);

    let reached = s.http.get(&loopback).send().await.expect("the CLI's listener answers");
    assert_eq!(reached.status(), 200);
    let status =
        tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("the CLI ends").expect("wait");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).await.expect("stderr");
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).await.expect("stdout");
    assert!(status.success(), "stdout: {out}\nstderr: {rest}");

    let me = cli.json(&["auth", "status"]).await;
    assert_eq!(me["username"], "alice", "{me}");
    let stored: Value = serde_json::from_slice(&std::fs::read(cli.credentials()).expect("credentials")).expect("JSON");
    // An API token (`krv_…`), not the login session (which is only kept, flagged, for enrolment).
    let entry = &stored["servers"][&s.base];
    assert!(entry["token"].as_str().is_some_and(|t| t.starts_with("krv_")), "{stored}");
    assert_ne!(entry["session"], true, "{stored}");
    assert_eq!(stored["servers"][&s.base]["token_name"], "laptop", "{stored}");
    let tokens = cli.json(&["auth", "token", "list"]).await;
    assert!(super::names(&tokens, "name").contains(&"laptop".to_owned()), "{tokens}");

    // The code was used by the CLI: a second exchange is refused.
    let (code, state) = (query_value(&loopback, "code"), query_value(&loopback, "state"));
    let (status, body) = exchange(&s, &code, &state).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_handoff", "{body}");
}

#[tokio::test]
async fn a_hand_off_code_is_refused_for_another_state_and_burnt_by_the_attempt() {
    let s = setup().await;
    let cli = Cli::new(&s.base);
    let (_child, _stderr, url) = start_cli(&cli).await;
    let loopback = browse_to_loopback(&s, &url, "sub-bob", "bob").await;
    let (code, state) = (query_value(&loopback, "code"), query_value(&loopback, "state"));

    let (status, body) = exchange(&s, &code, &"f".repeat(64)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    // One try only: the right state no longer helps.
    let (status, _) = exchange(&s, &code, &state).await;
    assert_eq!(status, 400);
    // Nor does a code nobody issued.
    let (status, _) = exchange(&s, "not-a-code", &state).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_hand_off_needs_a_browser_session_and_a_valid_port_and_state() {
    let s = setup().await;
    let state = "a".repeat(32);
    for query in [format!("port=40000&state={state}"), format!("port=80&state={state}"), "port=40000&state=x".into()] {
        let response =
            s.http.get(format!("{}/api/auth/oidc/cli/handoff?{query}", s.base)).send().await.expect("hand-off");
        assert_eq!(response.status(), 302, "{query}");
        let location = response.headers()["location"].to_str().expect("ASCII");
        assert!(location.starts_with("/login?sso_error="), "{query}: {location}");
    }
}
