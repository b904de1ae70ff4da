//! Settings of the local server only (the Lambda functions have no listener and
//! no embedded store).

use shared::env::{Env, EnvError};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `BIND_ADDRESS` (default 127.0.0.1; 0.0.0.0 to serve the network).
    pub bind: IpAddr,
    /// `PORT` (default 8000).
    pub port: u16,
    /// Where DynamoDB is: embedded, or the endpoint the SDK's own variables name.
    pub dynamodb: DynamoMode,
    /// `CREATE_TABLES` (default true): create missing tables at start.
    pub create_tables: bool,
    /// `WEB_DIR` (default `web/dist`): the web panel's built files, served at
    /// `/` when the folder exists.
    pub web_dir: std::path::PathBuf,
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`: serve HTTPS with these PEM files
    /// (both or neither).
    pub tls: Option<TlsFiles>,
}

/// The PEM files of the server's certificate (chain) and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `TLS_CERT_FILE`: the certificate, followed by any intermediates.
    pub cert: PathBuf,
    /// `TLS_KEY_FILE`: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamoMode {
    /// Dynoxide in this process, its data in the file at this path (or `:memory:`).
    Embedded { path: String },
    /// Whatever `AWS_ENDPOINT_URL[_DYNAMODB]` names, or AWS itself.
    External,
}

impl ServerSettings {
    /// Reads the given source; every problem names its variable.
    pub fn from(env: &Env) -> Result<Self, EnvError> {
        let bind = env.parsed_or("BIND_ADDRESS", IpAddr::from([127, 0, 0, 1]), "an IP address such as 0.0.0.0")?;
        let port = env.number_in("PORT", 8000u16, 1..=65535)?;
        // `auto` embeds the store unless the environment names a DynamoDB endpoint,
        // so a newcomer needs only redis-server; `false` with no endpoint is real AWS.
        let endpoint_named = env.get("AWS_ENDPOINT_URL_DYNAMODB").is_some() || env.get("AWS_ENDPOINT_URL").is_some();
        let embedded = match env.string_or("DYNAMODB_EMBEDDED", "auto").to_ascii_lowercase().as_str() {
            "auto" => !endpoint_named,
            _ => env.flag("DYNAMODB_EMBEDDED", false)?,
        };
        let dynamodb = if embedded {
            DynamoMode::Embedded { path: env.string_or("DYNAMODB_DATA_PATH", ".data/dynamodb.sqlite") }
        } else {
            DynamoMode::External
        };
        Ok(Self {
            bind,
            port,
            dynamodb,
            create_tables: env.flag("CREATE_TABLES", true)?,
            web_dir: env.string_or("WEB_DIR", "web/dist").into(),
            tls: tls_files(env)?,
        })
    }
}

/// `TLS_CERT_FILE` and `TLS_KEY_FILE`: both set, or neither (plain HTTP).
fn tls_files(env: &Env) -> Result<Option<TlsFiles>, EnvError> {
    let cert = env.get("TLS_CERT_FILE");
    let key = env.get("TLS_KEY_FILE");
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert: cert.into(), key: key.into() })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(EnvError {
            var: "TLS_KEY_FILE".into(),
            problem: "required when TLS_CERT_FILE is set (the PEM file of the certificate's private key)".into(),
        }),
        (None, Some(_)) => Err(EnvError {
            var: "TLS_CERT_FILE".into(),
            problem: "required when TLS_KEY_FILE is set (the PEM file of the certificate chain)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_unless_an_endpoint_is_named() {
        let s = ServerSettings::from(&Env::from_map::<&str, &str>([])).expect("defaults");
        assert_eq!(s.dynamodb, DynamoMode::Embedded { path: ".data/dynamodb.sqlite".into() });
        assert_eq!(s.port, 8000);
        let s =
            ServerSettings::from(&Env::from_map([("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")])).expect("endpoint");
        assert_eq!(s.dynamodb, DynamoMode::External);
        let s = ServerSettings::from(&Env::from_map([("DYNAMODB_EMBEDDED", "false")])).expect("aws");
        assert_eq!(s.dynamodb, DynamoMode::External);
        let s = ServerSettings::from(&Env::from_map([("DYNAMODB_EMBEDDED", "true"), ("AWS_ENDPOINT_URL", "http://x")]))
            .expect("forced");
        assert!(matches!(s.dynamodb, DynamoMode::Embedded { .. }));
        assert!(ServerSettings::from(&Env::from_map([("DYNAMODB_EMBEDDED", "perhaps")])).is_err());
        assert!(ServerSettings::from(&Env::from_map([("PORT", "70000")])).is_err());
    }

    #[test]
    fn tls_needs_both_files() {
        let s = ServerSettings::from(&Env::from_map::<&str, &str>([])).expect("defaults");
        assert_eq!(s.tls, None);
        let s = ServerSettings::from(&Env::from_map([("TLS_CERT_FILE", "/c.pem"), ("TLS_KEY_FILE", "/k.pem")]))
            .expect("both");
        assert_eq!(s.tls, Some(TlsFiles { cert: "/c.pem".into(), key: "/k.pem".into() }));
        let err = ServerSettings::from(&Env::from_map([("TLS_CERT_FILE", "/c.pem")])).expect_err("key missing");
        assert_eq!(err.var, "TLS_KEY_FILE");
        let err = ServerSettings::from(&Env::from_map([("TLS_KEY_FILE", "/k.pem")])).expect_err("cert missing");
        assert_eq!(err.var, "TLS_CERT_FILE");
    }
}
