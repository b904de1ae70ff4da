//! The merged router on a test's own stores, driven in-process.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Method, Request};
use serde_json::Value;
use shared::config::Config;
use shared::db::dynamo::Endpoint;
use shared::db::tables;
use shared::env::Env;
use shared::{AppState, Routes};
use tokio::sync::Mutex;

use crate::invariants::{self, Item};
use crate::request::{Auth, TestRequest, TestResponse};
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

/// The register secret and admin secret every test service is configured with.
pub const REGISTER_SECRET: &str = "test-register-secret-0123456789abcdef";
pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789abcdef-xyz";
/// The password the fixtures give the users they create.
pub const PASSWORD: &str = "Correct-Horse-Battery-9";

/// What every service a test runs is configured with, in this process or as a
/// child process (`krv-server`, a Lambda binary): cheap password hashing,
/// plain-http cookies, both secrets.
pub fn base_env() -> Vec<(&'static str, String)> {
    vec![
        ("COOKIE_SECURE", "false".into()),
        ("ARGON2_MEMORY_KIB", "64".into()),
        ("ARGON2_ITERATIONS", "1".into()),
        ("ADMIN_REGISTER_SECRET", REGISTER_SECRET.into()),
        ("ADMIN_SECRET", ADMIN_SECRET.into()),
    ]
}

/// Builds a [`TestApp`]: `TestApp::builder().env("LOGIN_FREE_FAILURES", "2").build().await`.
#[derive(Default)]
#[must_use]
pub struct TestAppBuilder {
    overrides: Vec<(String, String)>,
    /// A Redis Cluster whatever `KRV_TEST_REDIS` says.
    redis_cluster: bool,
}

impl TestAppBuilder {
    /// Runs the service on a Redis Cluster of its own (three primaries), as
    /// every test does when `KRV_TEST_REDIS=cluster`.
    pub fn redis_cluster(mut self) -> Self {
        self.redis_cluster = true;
        self
    }

    /// Sets (or replaces) one environment setting of the service.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.overrides.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets several environment settings.
    pub fn envs(self, settings: &[(&str, &str)]) -> Self {
        settings.iter().fold(self, |builder, (name, value)| builder.env(name, value))
    }

    /// Starts the stores and the service on them, with its tables created.
    pub async fn build(self) -> TestApp {
        // A test that brings its own Redis (`REDIS_URL`) gets no cluster.
        let own_redis = self.overrides.iter().any(|(name, _)| name == "REDIS_URL");
        let cluster = self.redis_cluster || (crate::stack::cluster_requested() && !own_redis);
        let stack = TestStack::start_with(cluster).await.expect("test stores start");
        let prefix = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let mut env: HashMap<String, String> = base_env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        env.extend([
            ("SESSION_SIGNING_KEY".to_owned(), uuid::Uuid::new_v4().simple().to_string()),
            ("TABLE_PREFIX".to_owned(), prefix),
            ("REDIS_URL".to_owned(), stack.redis.url()),
            ("STORE_TIMEOUT_MS".to_owned(), "1000".to_owned()),
        ]);
        if stack.redis.is_cluster() {
            // Carried to child processes too (`process_env`).
            env.insert("REDIS_CLUSTER".to_owned(), "true".to_owned());
        }
        env.extend(self.overrides);
        let endpoint = Endpoint { url: Some(stack.dynamo.endpoint()) };
        let app = TestApp::connect(Arc::new(Mutex::new(stack)), env, endpoint).await;
        tables::ensure(&app.state.stores, &app.state.config.stores.table_prefix).await.expect("tables created");
        app
    }
}

impl TestApp {
    /// A fresh app with the default test settings.
    pub async fn start() -> Self {
        Self::builder().build().await
    }

    /// A fresh app with settings of the test's choosing.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    async fn connect(stack: Arc<Mutex<TestStack>>, env: HashMap<String, String>, endpoint: Endpoint) -> Self {
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
        Self::connect(Arc::clone(&self.stack), self.env.clone(), self.endpoint.clone()).await
    }

    /// [`TestApp::another_instance`] with some settings of its own (another
    /// deployment's configuration on the same stores).
    pub async fn another_instance_with(&self, overrides: &[(&str, &str)]) -> Self {
        let mut env = self.env.clone();
        env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Self::connect(Arc::clone(&self.stack), env, self.endpoint.clone()).await
    }

    /// The environment a child process (a Lambda binary, `krv-server`) needs to
    /// serve as another instance of this app: its settings and stores (the
    /// cluster's seeds and `REDIS_CLUSTER` on a cluster).
    pub fn process_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        env.sort();
        if let Some(url) = &self.endpoint.url {
            env.push(("AWS_ENDPOINT_URL".to_owned(), url.clone()));
        }
        // Access logs at info would only fill the test output.
        env.push(("RUST_LOG".to_owned(), "warn".to_owned()));
        env
    }

    /// Serves the router on a loopback port (as the local server does, peer
    /// addresses included), for clients that need a real socket: the CLI, a
    /// browser, load generators. Returns the base URL; the server stops when
    /// the returned guard is dropped.
    pub async fn serve(&self) -> (String, ServerGuard) {
        serve(self.router.clone()).await
    }

    /// A request to this app's router, to finish and [`TestRequest::send`].
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest::new(&self.router, method, path)
    }

    /// Sends a request built elsewhere through the whole router (layers included).
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        TestResponse::from_router(&self.router, request).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path).send().await
    }

    /// A request from 127.0.0.1 with credentials and an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, auth: Auth<'_>, body: Option<&Value>) -> TestResponse {
        self.request(method, path).auth(auth).json_opt(body).send().await
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
        self.request(method, path).auth(auth).json_opt(body).from_ip(ip).send().await
    }

    /// An anonymous request with a JSON body.
    pub async fn json(&self, method: Method, path: &str, body: &Value) -> TestResponse {
        self.request(method, path).json(body).send().await
    }

    /// Every item of `table`, read straight from DynamoDB.
    pub async fn scan(&self, table: &str) -> Vec<Item> {
        invariants::scan(&self.state.stores, table).await.expect("scan")
    }
}

/// Serves `router` on a loopback port with peer addresses, until the guard drops.
pub async fn serve(router: Router) -> (String, ServerGuard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    (url, ServerGuard(task))
}

/// Stops a server started by [`TestApp::serve`] when dropped.
pub struct ServerGuard(tokio::task::JoinHandle<()>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
