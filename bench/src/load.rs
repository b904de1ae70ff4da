//! A load client for tests that drive a served instance over real HTTP: every
//! request is timed and recorded, so a test can check afterwards what each one
//! answered, how fast, and when relative to events such as a store outage.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

/// How long a client waits for one answer before calling it a hang. Well above
/// the 2 s the service promises, so a slow answer is measured, not cut off.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// One finished request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What the request was (a label chosen by the test).
    pub op: &'static str,
    /// Sent and answered, as offsets from the recorder's start.
    pub sent: Duration,
    pub answered: Duration,
    /// `None` when no HTTP answer came (connection error, client timeout).
    pub status: Option<StatusCode>,
    pub retry_after: Option<String>,
    pub body: Value,
    /// The transport error, when there was no answer.
    pub error: Option<String>,
}

impl Sample {
    pub fn latency(&self) -> Duration {
        self.answered.saturating_sub(self.sent)
    }

    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| s.is_success())
    }

    /// A 503 in the service's error shape: `{"detail": "<string>", …}` and a
    /// `Retry-After` header.
    pub fn is_well_formed_503(&self) -> bool {
        self.status == Some(StatusCode::SERVICE_UNAVAILABLE)
            && self.body["detail"].is_string()
            && self.retry_after.as_deref().is_some_and(|v| v.parse::<u64>().is_ok_and(|secs| secs >= 1))
    }

    /// Whether the request was sent and answered within `[from, to]`.
    pub fn within(&self, from: Duration, to: Duration) -> bool {
        self.sent >= from && self.answered <= to
    }

    /// A one-line description for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "{} sent at {:.3}s took {:?}: {} {}",
            self.op,
            self.sent.as_secs_f64(),
            self.latency(),
            self.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
            self.error.clone().unwrap_or_else(|| self.body.to_string()),
        )
    }
}

/// A shared HTTP client that records every request it sends.
#[derive(Clone)]
pub struct LoadClient {
    base: String,
    http: reqwest::Client,
    started: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    /// Whether [`LoadClient::send`] keeps its samples (a long soak checks
    /// each answer as it comes instead of keeping millions of them).
    keep: bool,
}

impl LoadClient {
    /// A client for the service at `base` (`http://127.0.0.1:PORT`) that
    /// keeps every sample.
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).build().expect("HTTP client builds");
        Self {
            base: base.to_owned(),
            http,
            started: Instant::now(),
            samples: Arc::new(Mutex::new(Vec::new())),
            keep: true,
        }
    }

    /// Like [`LoadClient::new`], but keeping no samples: the caller checks
    /// each one [`LoadClient::send`] returns.
    pub fn unrecorded(base: &str) -> Self {
        Self { keep: false, ..Self::new(base) }
    }

    /// Time since this client was made (the clock samples are measured on).
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// A request to `path` with optional bearer credentials and JSON body.
    pub fn request(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<&Value>) -> RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(json) = body {
            request = request.json(json);
        }
        request
    }

    /// Sends `request`, records it under `op` and returns the sample, plus the
    /// session token a `Set-Cookie` in the answer carries, if any.
    pub async fn send(&self, op: &'static str, request: RequestBuilder) -> (Sample, Option<String>) {
        let sent = self.now();
        let (status, retry_after, body, error, session) = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let header = |name: reqwest::header::HeaderName| {
                    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
                };
                let retry_after = header(reqwest::header::RETRY_AFTER);
                let session = session_cookie(response.headers());
                match response.bytes().await {
                    Ok(bytes) => {
                        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            Value::String(format!("(not JSON) {}", String::from_utf8_lossy(&bytes)))
                        });
                        (Some(status), retry_after, body, None, session)
                    }
                    Err(e) => (Some(status), retry_after, Value::Null, Some(format!("body cut short: {e}")), None),
                }
            }
            Err(e) => (None, None, Value::Null, Some(format!("{e:?}")), None),
        };
        let sample = Sample { op, sent, answered: self.now(), status, retry_after, body, error };
        if self.keep {
            self.samples.lock().expect("samples lock").push(sample.clone());
        }
        (sample, session)
    }

    /// Every sample recorded so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().expect("samples lock").clone()
    }
}

/// The session token a response's `Set-Cookie` sets, if any.
pub fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("kohakuriver_session="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
