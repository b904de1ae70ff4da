//! A Lambda Runtime API emulator, so a test can run a real Lambda binary the
//! way AWS does: the binary polls `/invocation/next`, gets an API Gateway event,
//! and posts its answer back.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Mutex, Notify, oneshot};

/// How an invocation ended: the function's response, or the error it reported.
pub type Outcome = Result<Value, Value>;

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Value>>,
}

/// The emulator, serving on a loopback port.
pub struct LambdaRuntime {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    function: Option<Child>,
}

impl LambdaRuntime {
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, server, function: None })
    }

    /// Starts `binary` as the function, with the variables Lambda sets plus `env`.
    pub fn spawn_function(&mut self, binary: &Path, env: &[(&str, &str)]) -> anyhow::Result<()> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "test-function")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        self.function = Some(command.spawn()?);
        Ok(())
    }

    /// An emulator running the Lambda binary `bin` as another instance of
    /// `app` (its stores and settings), plus `extra` variables.
    pub async fn for_app(app: &crate::TestApp, bin: &str, extra: &[(&str, &str)]) -> Self {
        let mut runtime = Self::start().await.expect("emulator starts");
        let settings = app.process_env();
        let mut env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        env.extend_from_slice(extra);
        runtime.spawn_function(&crate::bins::binary(bin), &env).expect("function starts");
        runtime
    }

    /// Delivers `event` to the function and waits for its outcome.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().await.insert(id.clone(), tx);
        self.shared.queue.lock().await.push_back((id, event));
        self.shared.queued.notify_one();
        match tokio::time::timeout(Duration::from_secs(20), rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                let init = self.shared.init_error.lock().await.clone();
                panic!("the function did not answer within 20 s (init error: {init:?})")
            }
        }
    }
}

impl Drop for LambdaRuntime {
    fn drop(&mut self) {
        if let Some(mut child) = self.function.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        // Register interest before checking, so a push between the check and the
        // wait is not missed.
        let notified = shared.queued.notified();
        if let Some((id, event)) = shared.queue.lock().await.pop_front() {
            let deadline = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() + 30_000).unwrap_or(0);
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            };
            set("lambda-runtime-aws-request-id", id);
            set("lambda-runtime-deadline-ms", deadline.to_string());
            set("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:test".into());
            set("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".into());
            return (headers, axum::Json(event)).into_response();
        }
        notified.await;
    }
}

async fn settle(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().await.remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn respond(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    settle(&shared, &id, Ok(value)).await
}

async fn fail(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: axum::body::Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    settle(&shared, &id, Err(value)).await
}

async fn init_error(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> StatusCode {
    *shared.init_error.lock().await = serde_json::from_slice(&body).ok();
    StatusCode::ACCEPTED
}
