//! The merged router on a test's own stores, driven in-process.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use shared::config::Config;
use shared::db::dynamo::Endpoint;
use shared::db::tables;
use shared::env::Env;
use shared::{AppState, Routes};
use tokio::sync::Mutex;
use tower::ServiceExt;

use crate::stack::TestStack;

/// One service instance on a test's stores. [`TestApp::another_instance`] makes a
/// second instance on the same stores, as a second Lambda or server would be.
pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub stack: Arc<Mutex<TestStack>>,
    env: HashMap<String, String>,
    endpoint: Endpoint,
}

/// The register secret and admin secret every test app is configured with.
pub const REGISTER_SECRET: &str = "test-register-secret-0123456789abcdef";
pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789abcdef-xyz";
/// The password the helpers give the users they create.
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

/// What the tests configure unless they say otherwise: cheap password hashing,
/// plain-http cookies, a unique table prefix, both secrets.
fn test_env(stack: &TestStack) -> HashMap<String, String> {
    let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    HashMap::from([
        ("SESSION_SIGNING_KEY".into(), uuid::Uuid::new_v4().simple().to_string()),
        ("TABLE_PREFIX".into(), prefix),
        ("REDIS_URL".into(), stack.redis.url()),
        ("COOKIE_SECURE".into(), "false".into()),
        ("ARGON2_MEMORY_KIB".into(), "64".into()),
        ("ARGON2_ITERATIONS".into(), "1".into()),
        ("STORE_TIMEOUT_MS".into(), "1000".into()),
        ("ADMIN_REGISTER_SECRET".into(), REGISTER_SECRET.into()),
        ("ADMIN_SECRET".into(), ADMIN_SECRET.into()),
    ])
}

impl TestApp {
    /// A fresh app with default test settings.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A fresh app; `overrides` replace or add environment settings.
    pub async fn start_with(overrides: &[(&str, &str)]) -> Self {
        let stack = TestStack::start().await.expect("test stores start");
        let mut env = test_env(&stack);
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let endpoint = Endpoint { url: Some(stack.dynamo.endpoint()) };
        let app = Self::build(Arc::new(Mutex::new(stack)), env, endpoint).await;
        tables::ensure(&app.state.stores, &app.state.config.stores.table_prefix).await.expect("tables created");
        app
    }

    async fn build(stack: Arc<Mutex<TestStack>>, env: HashMap<String, String>, endpoint: Endpoint) -> Self {
        // `RUST_LOG=…` shows the service's logs while debugging a test.
        if std::env::var_os("RUST_LOG").is_some() {
            shared::telemetry::init(shared::config::LogFormat::Text);
        }
        let config = Config::from(&Env::from_map(env.clone())).expect("test configuration is valid");
        let state = AppState::connect(config, &endpoint).await.expect("clients build");
        let router = Self::routes().into_router(state.clone());
        Self { state, router, stack, env, endpoint }
    }

    /// Every route the local server serves.
    pub fn routes() -> Routes {
        krv_server::routes()
    }

    /// A second service instance sharing this one's stores and settings, with
    /// its own clients (as another Lambda container would have).
    pub async fn another_instance(&self) -> Self {
        Self::build(Arc::clone(&self.stack), self.env.clone(), self.endpoint.clone()).await
    }

    /// Serves the router on a loopback port (as the local server does, peer
    /// addresses included), for clients that need a real socket: the CLI, a
    /// browser, load generators. Returns the base URL; the server stops when
    /// the returned guard is dropped.
    pub async fn serve(&self) -> (String, ServerGuard) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let router = self.router.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
        });
        (url, ServerGuard(task))
    }

    /// Sends a request through the whole router (layers included).
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        TestResponse { status, headers, bytes }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.call(Method::GET, path, Auth::None, None).await
    }

    /// A request from 127.0.0.1 with credentials and an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, auth: Auth<'_>, body: Option<&Value>) -> TestResponse {
        self.call_from(method, path, auth, body, "127.0.0.1").await
    }

    /// Like [`TestApp::call`], from the client address `ip`.
    pub async fn call_from(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        ip: &str,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path).header(http::header::USER_AGENT, "krv-tests");
        builder = match auth {
            Auth::None => builder,
            Auth::Bearer(token) => builder.header(http::header::AUTHORIZATION, format!("Bearer {token}")),
            Auth::Cookie(token) => builder.header(http::header::COOKIE, format!("kohakuriver_session={token}")),
            Auth::AdminSecret(secret) => builder.header("x-admin-secret", secret),
        };
        let body = match body {
            Some(json) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let mut request = builder.body(body).expect("request");
        let addr: std::net::SocketAddr = format!("{ip}:40000").parse().expect("address");
        request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        self.send(request).await
    }

    /// Registers the first admin `name` with the register secret; returns its session token.
    pub async fn first_admin(&self, name: &str) -> String {
        let body = serde_json::json!({"username": name, "password": PASSWORD, "register_secret": REGISTER_SECRET});
        let response = self.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        response.session_token().expect("registration sets the session cookie")
    }

    /// Has `admin_token`'s admin create `name` with `role`; returns the new user's id.
    pub async fn create_user(&self, admin_token: &str, name: &str, role: &str) -> u64 {
        self.create_user_as(Auth::Bearer(admin_token), name, role).await
    }

    /// Creates `name` with `role` as the admin `auth` names; returns the new user's id.
    pub async fn create_user_as(&self, auth: Auth<'_>, name: &str, role: &str) -> u64 {
        let body = serde_json::json!({"username": name, "password": PASSWORD, "role": role});
        let response = self.call(Method::POST, "/api/auth/register", auth, Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        response.json()["user"]["id"].as_u64().expect("numeric id")
    }

    /// Creates an API token named `name` with `session`; returns the token and its id.
    pub async fn create_token(&self, session: &str, name: &str) -> (String, u64) {
        let body = serde_json::json!({"name": name});
        let response = self.call(Method::POST, "/api/auth/tokens", Auth::Bearer(session), Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        let body = response.json();
        (body["token"].as_str().expect("token").to_owned(), body["id"].as_u64().expect("numeric id"))
    }

    /// Logs `name` in with [`PASSWORD`]; returns the session token.
    pub async fn login(&self, name: &str) -> String {
        let body = serde_json::json!({"username": name, "password": PASSWORD});
        let response = self.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await;
        response.assert_status(StatusCode::OK);
        response.session_token().expect("login sets the session cookie")
    }

    /// A request with a JSON body.
    pub async fn json(&self, method: Method, path: &str, body: &Value) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(request).await
    }
}

/// Stops a server started by [`TestApp::serve`] when dropped.
pub struct ServerGuard(tokio::task::JoinHandle<()>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The credentials a test request carries.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
    AdminSecret(&'a str),
}

/// A finished response with its body read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: bytes::Bytes,
}

impl TestResponse {
    /// The body as JSON; fails the test if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    /// The `Set-Cookie` header of the session cookie, if set.
    pub fn session_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("kohakuriver_session="))
    }

    /// The session token the response's cookie sets, if any.
    pub fn session_token(&self) -> Option<String> {
        let cookie = self.session_cookie()?;
        let value = cookie.trim_start_matches("kohakuriver_session=").split(';').next()?;
        (!value.is_empty()).then(|| value.to_owned())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Fails the test unless the status is `expected`, showing the body.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(self.status, expected, "unexpected status; body: {}", String::from_utf8_lossy(&self.bytes));
        self
    }

    /// Fails the test unless this is an error in the service's shape with `status`.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) -> Value {
        self.assert_status(status);
        let body = self.json();
        assert!(body["detail"].is_string(), "detail must be a string: {body}");
        assert_eq!(body["code"], code, "unexpected code: {body}");
        body
    }
}
