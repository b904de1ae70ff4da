//! A real OpenID provider for the single sign-on tests: the certified
//! `oidc-provider` npm package run by `tests/oidc-provider/server.mjs` as a
//! child process on a loopback port, with test control endpoints that queue
//! the next login, approve device codes and corrupt the next ID token
//! (`tests/oidc-provider/README.md`). [`TestIdp::browse`] plays the browser
//! between our service and the provider.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Url;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// How long the provider may take to print its ready line (it takes well
/// under two seconds once its packages are installed).
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// More redirects than any login needs: a loop, not a flow.
const MAX_REDIRECTS: usize = 20;

/// A client registered at the provider. Every client may use the
/// authorization code (PKCE S256 required), refresh token and device grants.
#[derive(Clone, Debug, Serialize)]
pub struct IdpClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
}

/// A running provider, killed on drop.
pub struct TestIdp {
    /// `http://127.0.0.1:PORT`; discovery at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    http: reqwest::Client,
    _child: Child,
    // Held open so the provider never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

/// The last answer of our service in a [`TestIdp::browse`], with the URLs the
/// browser went through.
#[derive(Clone, Debug)]
pub struct BrowseResult {
    pub status: u16,
    /// The `Location` header as sent (not resolved).
    pub location: Option<String>,
    /// Every `Set-Cookie` header of that answer, as sent.
    pub set_cookies: Vec<String>,
    pub body: String,
    /// The URL of that answer (usually our callback with `code` and `state`).
    pub url: String,
    /// The first authorization request our service sent the browser to.
    pub authorize_url: Option<String>,
    /// The last URL of ours the provider sent the browser back to (the
    /// callback with `code` and `state`, or `error`), for replay tests.
    pub callback_url: Option<String>,
}

impl BrowseResult {
    /// The value a `Set-Cookie` of the answer gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().rev().find_map(|header| {
            let (pair, _) = header.split_once(';').unwrap_or((header, ""));
            let (n, v) = pair.split_once('=')?;
            (n.trim() == name).then(|| v.trim().to_owned())
        })
    }

    /// `name=value; …` of the cookies the answer set (not the ones it
    /// cleared), for the `Cookie` header of the next request.
    pub fn cookie_header(&self) -> String {
        self.set_cookies
            .iter()
            .filter_map(|header| SetCookie::parse(header))
            .filter(|c| !c.clears)
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl TestIdp {
    /// Starts the provider with `clients` on a free loopback port (installing
    /// its npm packages first when `node_modules` is missing or stale) and
    /// waits for its ready line.
    pub async fn start(clients: Vec<IdpClient>) -> anyhow::Result<TestIdp> {
        let dir = provider_dir();
        ensure_installed(&dir).await?;
        let config = json!({ "port": 0, "clients": clients });
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .env("IDP_CONFIG", config.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot run node (scripts/install-deps lists what the tests need)")?;
        let mut stdout = BufReader::new(child.stdout.take().context("provider stdout")?);
        let mut line = String::new();
        let read = tokio::time::timeout(READY_TIMEOUT, stdout.read_line(&mut line))
            .await
            .context("the OpenID provider did not print its ready line in time")?
            .context("reading the OpenID provider's ready line")?;
        anyhow::ensure!(read > 0, "the OpenID provider exited before it was ready (its stderr is above)");
        let ready: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("provider ready line {line:?}"))?;
        let issuer = ready["issuer"].as_str().context("ready line without issuer")?.to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(TestIdp { issuer, http, _child: child, _stdout: stdout })
    }

    /// The next authorization request is completed (login and consent) as
    /// account `sub` with `claims` (`email`, `name`, `preferred_username`,
    /// `groups`, and `amr`/`acr` for the authentication). Queued: several
    /// calls serve several flows in order.
    pub async fn next_login(&self, sub: &str, claims: serde_json::Value) -> anyhow::Result<()> {
        self.control("next-login", json!({ "sub": sub, "claims": claims })).await
    }

    /// Corrupts the ID token of the next token response that has one:
    /// `wrong_audience`, `expired`, `other_key` (signed by a key outside the
    /// JWKS with the published `kid`), `wrong_nonce`, `wrong_issuer`,
    /// `alg_none` (unsigned); `none` cancels a pending one.
    pub async fn tamper(&self, mode: &str) -> anyhow::Result<()> {
        self.control("tamper", json!({ "mode": mode })).await
    }

    /// Approves the pending device authorization with `user_code` as account
    /// `sub` with `claims` (as [`TestIdp::next_login`]); the device's next
    /// token poll gets its tokens.
    pub async fn approve_device(&self, user_code: &str, sub: &str, claims: serde_json::Value) -> anyhow::Result<()> {
        self.control("device/approve", json!({ "user_code": user_code, "sub": sub, "claims": claims })).await
    }

    /// Follows a browser's redirects from `start_url` (our
    /// `/api/auth/oidc/{provider}/start` URL) through the provider and back,
    /// keeping cookies per origin (`cookie`, a `Cookie` header value, is sent
    /// to our service from the start), and stops at the first answer of ours
    /// that is not a redirect to the provider. An answer of the provider that
    /// is not a redirect (an error page, or "no test login set") is an error.
    pub async fn browse(&self, start_url: &str, cookie: Option<&str>) -> anyhow::Result<BrowseResult> {
        let issuer = Url::parse(&self.issuer)?;
        let mut url = Url::parse(start_url).with_context(|| format!("start URL {start_url:?}"))?;
        let mut jar = CookieJar::default();
        if let Some(cookie) = cookie {
            jar.seed(&url, cookie);
        }
        let (mut authorize_url, mut callback_url) = (None, None);
        for _ in 0..MAX_REDIRECTS {
            let step = self.visit(&mut jar, &url).await?;
            let at_provider = url.origin() == issuer.origin();
            match step.next {
                Some(next) if at_provider => {
                    if next.origin() != issuer.origin() {
                        callback_url = Some(next.to_string());
                    }
                    url = next;
                }
                Some(next) if next.origin() == issuer.origin() => {
                    authorize_url.get_or_insert_with(|| next.to_string());
                    url = next;
                }
                _ => {
                    let body = step.response.text().await.unwrap_or_default();
                    anyhow::ensure!(!at_provider, "the OpenID provider answered {} at {url}: {body}", step.status);
                    return Ok(BrowseResult {
                        status: step.status.as_u16(),
                        location: step.location,
                        set_cookies: step.set_cookies,
                        body,
                        url: url.to_string(),
                        authorize_url,
                        callback_url,
                    });
                }
            }
        }
        anyhow::bail!("more than {MAX_REDIRECTS} redirects from {start_url}")
    }

    /// Follows the provider's redirects from an authorization request, as a
    /// browser with no cookies yet, and returns the URL the provider finally
    /// sends the browser to outside itself (the client's redirect URI with
    /// `code` and `state`, or with `error`) without visiting it. For tests
    /// that play the client themselves.
    pub async fn authorize(&self, authorize_url: &str) -> anyhow::Result<String> {
        let issuer = Url::parse(&self.issuer)?;
        let mut url = Url::parse(authorize_url).with_context(|| format!("authorization URL {authorize_url:?}"))?;
        let mut jar = CookieJar::default();
        for _ in 0..MAX_REDIRECTS {
            let step = self.visit(&mut jar, &url).await?;
            match step.next {
                Some(next) if next.origin() == issuer.origin() => url = next,
                Some(next) => return Ok(next.to_string()),
                None => {
                    let body = step.response.text().await.unwrap_or_default();
                    anyhow::bail!("the OpenID provider answered {} at {url}: {body}", step.status);
                }
            }
        }
        anyhow::bail!("more than {MAX_REDIRECTS} redirects from {authorize_url}")
    }

    /// One GET as a browser: cookies from and into `jar`, no redirect followed.
    async fn visit(&self, jar: &mut CookieJar, url: &Url) -> anyhow::Result<Step> {
        let mut request = self.http.get(url.clone());
        if let Some(header) = jar.header_for(url) {
            request = request.header(COOKIE, header);
        }
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let set_cookies: Vec<String> =
            response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        jar.store(url, &set_cookies);
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let next = match (&location, status.is_redirection()) {
            (Some(location), true) => Some(url.join(location).with_context(|| format!("Location {location:?}"))?),
            _ => None,
        };
        Ok(Step { status, location, set_cookies, next, response })
    }

    async fn control(&self, endpoint: &str, body: serde_json::Value) -> anyhow::Result<()> {
        let url = format!("{}/_test/{endpoint}", self.issuer);
        let response = self.http.post(&url).json(&body).send().await.with_context(|| format!("POST {url}"))?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "POST {url} answered {status}: {}", response.text().await?);
        Ok(())
    }
}

/// `tests/oidc-provider`, where `server.mjs` and its packages are.
fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// Runs `npm ci` for the provider when its packages are missing or older than
/// the lock file. Tests run as parallel processes, so a file lock makes one
/// install and the others wait for it.
async fn ensure_installed(dir: &Path) -> anyhow::Result<()> {
    if installed(dir) {
        return Ok(());
    }
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let lock_path = std::env::temp_dir().join("krv-tests-oidc-provider-npm.lock");
        let lock = std::fs::File::create(&lock_path).with_context(|| format!("{}", lock_path.display()))?;
        lock.lock()?;
        if installed(&dir) {
            return Ok(());
        }
        let output = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .context("cannot run npm (scripts/install-deps lists what the tests need)")?;
        anyhow::ensure!(
            output.status.success(),
            "npm ci --prefix {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    })
    .await?
}

/// Whether `npm ci` ran since the lock file last changed (npm writes
/// `node_modules/.package-lock.json` when it installs).
fn installed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(dir.join("node_modules/.package-lock.json")), modified(dir.join("package-lock.json"))) {
        (Some(installed), Some(locked)) => installed >= locked,
        _ => false,
    }
}

/// One answer in a walk of redirects.
struct Step {
    status: reqwest::StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    /// Where a redirect leads, resolved against the URL visited.
    next: Option<Url>,
    response: reqwest::Response,
}

/// One `Set-Cookie` header, reduced to what a browser needs to send it back.
struct SetCookie {
    name: String,
    value: String,
    path: Option<String>,
    /// `Max-Age=0` or an `Expires` in the past: the cookie is deleted.
    clears: bool,
}

impl SetCookie {
    fn parse(header: &str) -> Option<SetCookie> {
        let mut parts = header.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let mut cookie =
            SetCookie { name: name.trim().to_owned(), value: value.trim().to_owned(), path: None, clears: false };
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "path" => cookie.path = Some(val.trim().to_owned()),
                "max-age" => cookie.clears |= val.trim().parse::<i64>().is_ok_and(|age| age <= 0),
                // oidc-provider and most servers clear with the epoch.
                "expires" => cookie.clears |= val.contains("1970"),
                _ => {}
            }
        }
        Some(cookie)
    }
}

/// Cookies per origin (scheme, host and port): our service and the provider
/// share a host, so keeping them apart stands for the two sites a browser sees.
#[derive(Default)]
struct CookieJar {
    /// origin → name → (path, value)
    cookies: HashMap<String, HashMap<String, (String, String)>>,
}

impl CookieJar {
    fn seed(&mut self, url: &Url, header: &str) {
        let jar = self.cookies.entry(url.origin().ascii_serialization()).or_default();
        for pair in header.split(';') {
            if let Some((name, value)) = pair.split_once('=') {
                jar.insert(name.trim().to_owned(), ("/".to_owned(), value.trim().to_owned()));
            }
        }
    }

    fn store(&mut self, url: &Url, headers: &[String]) {
        let jar = self.cookies.entry(url.origin().ascii_serialization()).or_default();
        for cookie in headers.iter().filter_map(|h| SetCookie::parse(h)) {
            if cookie.clears {
                jar.remove(&cookie.name);
            } else {
                let path = cookie.path.unwrap_or_else(|| default_path(url));
                jar.insert(cookie.name, (path, cookie.value));
            }
        }
    }

    fn header_for(&self, url: &Url) -> Option<String> {
        let jar = self.cookies.get(&url.origin().ascii_serialization())?;
        let header = jar
            .iter()
            .filter(|(_, (path, _))| path_matches(path, url.path()))
            .map(|(name, (_, value))| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        (!header.is_empty()).then_some(header)
    }
}

/// The default cookie path of RFC 6265 §5.1.4: the request path up to its last `/`.
fn default_path(url: &Url) -> String {
    match url.path().rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => url.path()[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4 path matching.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}
