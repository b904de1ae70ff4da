//! HTTP to the service: bearer authentication, JSON in and out, cursor
//! pagination, and the mapping of failures to exit codes.

use std::time::Duration;

use crate::error::{CliError, SERVER};
use anyhow::{Context, Result};
use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// The largest page the service hands out.
const MAX_PAGE: usize = 500;
/// The header carrying the next page's cursor.
const NEXT_CURSOR: &str = "x-next-cursor";
/// The most pages one [`Client::list`] fetches. A list is complete only when a
/// page carries no cursor; a page may be short or even empty and still carry
/// one (the service caps the items it examines per request), so the page count
/// is the only stop for a server that never ends a list. 10,000 pages is five
/// million items at the largest page size, or ten million tasks examined.
const MAX_PAGES: usize = 10_000;

/// A client for one server, with the credentials it sends.
pub struct Client {
    http: reqwest::Client,
    /// The server's base URL (no trailing slash).
    pub base: String,
    token: Option<String>,
}

/// The `code` of a 403 for a session that must enrol a second factor first.
pub const MFA_ENROLLMENT_REQUIRED: &str = "mfa_enrollment_required";

/// A successful answer.
pub struct Answer {
    /// The response headers (cookies, cursors).
    pub headers: HeaderMap,
    /// The JSON body (`null` when empty).
    pub body: Value,
}

/// Any HTTP answer, successful or not.
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The URL asked (for messages).
    pub url: Url,
    /// Headers and JSON body.
    pub answer: Answer,
}

impl Client {
    /// A client for `base`, authenticating with `token` when given.
    pub fn new(base: String, token: Option<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("kohakuriver-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { http, base, token })
    }

    /// The same server with other credentials.
    pub fn with_token(&self, token: Option<String>) -> Self {
        Self { http: self.http.clone(), base: self.base.clone(), token }
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url> {
        let mut url = Url::parse(&format!("{}{path}", self.base)).with_context(|| format!("bad URL {path}"))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends one request and returns whatever HTTP answer comes back; only a
    /// transport failure is an error (one naming the URL). For the few callers
    /// that read a refusal's body (the login's `mfa_required`).
    pub async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        let url = self.url(path, query)?;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| transport_error(&url, &err))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|err| transport_error(&url, &err))?;
        let body: Value =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok(Reply { status, url, answer: Answer { headers, body } })
    }

    /// Sends one request; any non-2xx answer becomes a [`CliError`] with the
    /// server's `detail`, and a transport failure one naming the URL.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let reply = self.exchange(method, path, query, body).await?;
        if reply.status.is_success() {
            return Ok(reply.answer);
        }
        Err(self.refusal(path, &reply).into())
    }

    /// The error a non-2xx reply to `path` becomes: the server's `detail`, the
    /// field errors of a 422, and a hint when the cause is on this side.
    pub fn refusal(&self, path: &str, reply: &Reply) -> CliError {
        let (status, body) = (reply.status, &reply.answer.body);
        let mut message =
            body["detail"].as_str().map_or_else(|| format!("HTTP {status} from {}", reply.url), str::to_owned);
        if let Some(errors) = body["errors"].as_array() {
            for e in errors {
                let line = format!("{}: {}", e["field"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or(""));
                // A single field error is often the detail itself.
                if !message.contains(&line) {
                    message.push_str(&format!("\n  {line}"));
                }
            }
        }
        let code = body["code"].as_str().map(str::to_owned);
        if code.as_deref() == Some(MFA_ENROLLMENT_REQUIRED) {
            message.push_str(
                "\n  your role requires a second factor before this session may do anything else: \
                 enrol one with `kohakuriver auth mfa totp enable`, then log in again",
            );
        } else if status.as_u16() == 401 && self.token.is_none() && !path.starts_with("/api/auth/login") {
            // A refused login is the answer to `auth login` itself, not a reason to run it.
            message.push_str(&format!(" (not logged in to {}: run `kohakuriver auth login`)", self.base));
        }
        CliError::new(CliError::code_for_status(status.as_u16()), message).with_code(code)
    }

    /// GET → JSON.
    pub async fn get(&self, path: &str) -> Result<Value> {
        Ok(self.send(Method::GET, path, &[], None).await?.body)
    }

    /// POST (optional JSON body) → JSON.
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        Ok(self.send(Method::POST, path, &[], body).await?.body)
    }

    /// PUT (optional JSON body) → JSON.
    pub async fn put(&self, path: &str, body: Option<&Value>) -> Result<Value> {
        Ok(self.send(Method::PUT, path, &[], body).await?.body)
    }

    /// PATCH with a JSON body → JSON.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        Ok(self.send(Method::PATCH, path, &[], Some(body)).await?.body)
    }

    /// DELETE → JSON.
    pub async fn delete(&self, path: &str) -> Result<Value> {
        Ok(self.send(Method::DELETE, path, &[], None).await?.body)
    }

    /// DELETE with a JSON body (a password or a code proving the caller) → JSON.
    pub async fn delete_with(&self, path: &str, body: &Value) -> Result<Value> {
        Ok(self.send(Method::DELETE, path, &[], Some(body)).await?.body)
    }

    /// Every item of a paginated list, following `X-Next-Cursor` until a page
    /// comes without one (short and empty pages included), up to `max` items.
    /// A server that hands back the cursor it was given, or keeps handing out
    /// cursors past [`MAX_PAGES`] pages, is an error (exit code 6), not a loop.
    pub async fn list(&self, path: &str, query: &[(&str, String)], max: Option<usize>) -> Result<Vec<Value>> {
        let split = |answer: Answer| {
            let next = answer.headers.get(NEXT_CURSOR).and_then(|v| v.to_str().ok()).map(str::to_owned);
            match answer.body {
                Value::Array(page) => Ok((page, next, Value::Null)),
                other => anyhow::bail!("expected a JSON array from {path}, got {other}"),
            }
        };
        Ok(self.walk(path, query, MAX_PAGE, max, split).await?.0)
    }

    /// Every item of a list whose pages are objects carrying the items under
    /// `key` and the next page's cursor in `next_cursor` (the admin token list),
    /// up to `max` items, `page_size` at a time. Stops and fails as
    /// [`Client::list`] does. Returns the items and the last page without them
    /// (its other fields, e.g. the lifetime cap).
    pub async fn list_in(
        &self,
        path: &str,
        query: &[(&str, String)],
        key: &str,
        page_size: usize,
        max: Option<usize>,
    ) -> Result<(Vec<Value>, Value)> {
        let split = |answer: Answer| {
            let mut page = answer.body;
            let Some(Value::Array(found)) = page.get_mut(key).map(Value::take) else {
                anyhow::bail!("expected a JSON object with an array {key:?} from {path}, got {page}");
            };
            let next = page["next_cursor"].as_str().filter(|c| !c.is_empty()).map(str::to_owned);
            Ok((found, next, page))
        };
        self.walk(path, query, page_size, max, split).await
    }

    /// The page walk of [`Client::list`] and [`Client::list_in`]; `split`
    /// reads one answer's items, next cursor and other fields.
    async fn walk(
        &self,
        path: &str,
        query: &[(&str, String)],
        page_size: usize,
        max: Option<usize>,
        split: impl Fn(Answer) -> Result<(Vec<Value>, Option<String>, Value)>,
    ) -> Result<(Vec<Value>, Value)> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let want = max.map_or(page_size, |m| m.saturating_sub(items.len()).clamp(1, page_size));
            let mut q = query.to_vec();
            q.push(("limit", want.to_string()));
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let (found, next, page) = split(self.send(Method::GET, path, &q, None).await?)?;
            items.extend(found);
            if let Some(m) = max
                && items.len() >= m
            {
                items.truncate(m);
                return Ok((items, page));
            }
            match next {
                None => return Ok((items, page)),
                Some(next) if cursor.as_ref() == Some(&next) => {
                    let message =
                        format!("{}{path} answered with the cursor it was given; the list does not advance", self.base);
                    return Err(CliError::new(SERVER, message).into());
                }
                Some(next) => cursor = Some(next),
            }
        }
        let message = format!(
            "{}{path} was still handing out pages after {MAX_PAGES}; stopped with {} items",
            self.base,
            items.len()
        );
        Err(CliError::new(SERVER, message).into())
    }
}

/// A request that got no HTTP answer: exit code 6, naming the URL tried.
fn transport_error(url: &Url, err: &reqwest::Error) -> anyhow::Error {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let what = if err.is_timeout() { "timed out talking to" } else { "could not connect to" };
    CliError::new(SERVER, format!("{what} {url}: {cause}")).into()
}
