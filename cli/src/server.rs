//! Which server to talk to: `--host` / `KOHAKURIVER_HOST`, with the compat
//! `KOHAKURIVER_PORT`, normalised into a base URL that also keys the
//! credentials file.

use anyhow::{Result, bail};

/// The server used when nothing is configured.
pub const DEFAULT_SERVER: &str = "http://localhost:8000";
/// The port a bare host name gets when neither it nor `KOHAKURIVER_PORT` names one
/// (the original KohakuRiver host's port).
const DEFAULT_PORT: u16 = 8000;

/// The base URL for `host` (a URL or `host[:port]`), without a trailing slash.
///
/// A URL (`http://…`, `https://…`) is taken as written. A bare `host[:port]`
/// means plain http; without a port it gets `port` (`KOHAKURIVER_PORT`) or 8000.
pub fn resolve(host: Option<&str>, port: Option<u16>) -> Result<String> {
    let Some(host) = host.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(match port {
            Some(port) => format!("http://localhost:{port}"),
            None => DEFAULT_SERVER.to_owned(),
        });
    };
    let lower = host.to_ascii_lowercase();
    let url = if lower.starts_with("http://") || lower.starts_with("https://") {
        host.to_owned()
    } else if host.contains("://") {
        bail!("unsupported scheme in {host:?}: use http:// or https://");
    } else if has_port(host) {
        format!("http://{host}")
    } else {
        format!("http://{host}:{}", port.unwrap_or(DEFAULT_PORT))
    };
    let parsed = reqwest::Url::parse(&url).map_err(|e| anyhow::anyhow!("invalid server {host:?}: {e}"))?;
    if parsed.host_str().is_none() {
        bail!("invalid server {host:?}: no host name");
    }
    // `Url` adds a slash to an empty path; the key and the joins want none.
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether a bare `host[:port]` names a port (IPv6 literals are bracketed).
fn has_port(host: &str) -> bool {
    let after_bracket = host.rsplit_once(']').map_or(host, |(_, rest)| rest);
    after_bracket.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn hosts_urls_and_ports() {
        assert_eq!(resolve(None, None).expect("ok"), "http://localhost:8000");
        assert_eq!(resolve(Some("river.example.com"), None).expect("ok"), "http://river.example.com:8000");
        assert_eq!(resolve(Some("river:9000"), Some(1)).expect("ok"), "http://river:9000");
        assert_eq!(resolve(Some("river"), Some(1234)).expect("ok"), "http://river:1234");
        assert_eq!(resolve(Some("https://river.example.com/"), None).expect("ok"), "https://river.example.com");
        assert_eq!(resolve(Some("http://127.0.0.1:5000"), Some(1)).expect("ok"), "http://127.0.0.1:5000");
        assert_eq!(resolve(Some("[::1]:81"), None).expect("ok"), "http://[::1]:81");
        assert!(resolve(Some("ftp://x"), None).is_err());
    }
}
