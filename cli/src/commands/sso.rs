//! `kohakuriver auth login --sso PROVIDER`: a login through a single sign-on
//! provider in a browser, handed back to this process over loopback.
//!
//! This process listens on `127.0.0.1:<random port>` and sends the browser to
//! the server's `/api/auth/oidc/{provider}/start` with
//! `next=/api/auth/oidc/cli/handoff?port=…&state=…`; after the provider, the
//! server lands the browser on that hand-off, which redirects it here with a
//! one-time code and our `state`. The code is traded at
//! `POST /api/auth/oidc/cli/exchange` for a session, exactly what a password
//! login answers (docs/sso.md, "The command line").

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use rand::RngCore;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Context;
use crate::client::Answer;
use crate::error::{AUTH, CliError};

/// How long the browser may take (the provider's login page, a second factor).
const WAIT: Duration = Duration::from_secs(300);
/// Where hand-off codes are traded.
const EXCHANGE: &str = "/api/auth/oidc/cli/exchange";

/// Runs the browser login and answers the server's login answer (session
/// cookie and `{user, …}`).
pub async fn login(ctx: &Context, provider: &str, no_browser: bool) -> Result<Answer> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("listening on a loopback port")?;
    let port = listener.local_addr()?.port();
    let state = random_state();
    let next = format!("/api/auth/oidc/cli/handoff?port={port}&state={state}");
    let url =
        format!("{}/api/auth/oidc/{}/start?next={}", ctx.server.trim_end_matches('/'), encode(provider), encode(&next));
    // The URL goes to stderr so `--json` output stays one document.
    eprintln!("Open this URL in a browser to log in through {provider}:\n{url}");
    if !no_browser && !open_browser(&url) {
        eprintln!("(no browser could be started; open the URL yourself)");
    }
    let code = tokio::time::timeout(WAIT, receive(&listener, &state))
        .await
        .map_err(|_| CliError::new(AUTH, "the browser login did not come back in time (5 minutes)"))??;
    let anonymous = ctx.client.with_token(None);
    let body = json!({"code": code, "state": state});
    let reply = anonymous.exchange(Method::POST, EXCHANGE, &[], Some(&body)).await?;
    if !reply.status.is_success() {
        return Err(anonymous.refusal(EXCHANGE, &reply).into());
    }
    Ok(reply.answer)
}

/// 32 random bytes, hex: the value only our listener and the server know.
fn random_state() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes everything but unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Starts the system's browser at `url`; false when there is none (no
/// display on Linux, or the opener failed).
fn open_browser(url: &str) -> bool {
    let opener: Option<(&str, Vec<&str>)> = if cfg!(target_os = "macos") {
        Some(("open", vec![url]))
    } else if cfg!(windows) {
        Some(("rundll32", vec!["url.dll,FileProtocolHandler", url]))
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        Some(("xdg-open", vec![url]))
    } else {
        None
    };
    opener.is_some_and(|(program, args)| {
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}

/// Serves the loopback listener until a `GET /callback` with our `state`
/// brings a code; anything else is answered and ignored (another local page
/// cannot end the wait with a code of its own choosing).
async fn receive(listener: &TcpListener, state: &str) -> Result<String> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let Ok(target) = request_target(&mut stream).await else { continue };
        let query = target.strip_prefix("/callback?").map(params);
        let code = query.as_ref().and_then(|q| {
            let ours = q.iter().any(|(k, v)| k == "state" && constant_time_eq(v.as_bytes(), state.as_bytes()));
            let code = q.iter().find(|(k, _)| k == "code").map(|(_, v)| v.clone());
            code.filter(|c| ours && !c.is_empty())
        });
        match code {
            Some(code) => {
                respond(&mut stream, "200 OK", "Logged in. You can close this window and return to the terminal.")
                    .await;
                return Ok(code);
            }
            None => {
                respond(&mut stream, "400 Bad Request", "This is not the login this terminal is waiting for.").await
            }
        }
    }
}

/// The request target of one HTTP request (`GET <target> HTTP/1.1`).
async fn request_target(stream: &mut TcpStream) -> Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await??;
        if n == 0 || buf.len() > 16 * 1024 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next().unwrap_or_default();
    match line.split(' ').collect::<Vec<_>>().as_slice() {
        ["GET", target, _] => Ok((*target).to_owned()),
        _ => Err(anyhow!("not a GET request")),
    }
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let page = format!("<!doctype html><title>kohakuriver</title><p>{text}</p>");
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    // Best effort: the browser's page is a courtesy, the code is what counts.
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// `k=v&…` decoded (`%XX` and `+`).
fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match value.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(()) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares without stopping at the first difference (the state is a secret
/// a local page could otherwise guess byte by byte).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_round_trip_through_encode_and_decode() {
        let next = "/api/auth/oidc/cli/handoff?port=5&state=ab";
        assert_eq!(decode(&encode(next)), next);
        assert_eq!(params("code=a%2Bb&state=x+y"), vec![("code".into(), "a+b".into()), ("state".into(), "x y".into())]);
        assert_eq!(decode("%zz%4"), "%zz%4");
    }
}
