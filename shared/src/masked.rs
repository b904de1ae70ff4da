//! The effective configuration as `/api/admin/config` shows it: every
//! setting, every secret masked (`********`, or null when unset), passwords
//! inside URLs too.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::config::{Config, LogFormat};

/// A secret: whether it is set, never what it is.
fn mask(secret: &Option<SecretString>) -> Option<&'static str> {
    secret.as_ref().map(|_| "********")
}

/// `redis://user:pw@host/0` → `redis://user:********@host/0`.
fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:********@{host}")
        }
        None => url.to_owned(),
    }
}

/// `ARGON2_*`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// `LOGIN_*`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThrottleSettings {
    pub free_failures: u32,
    pub base_delay_ms: u64,
    pub max_delay_secs: u64,
    pub lockout_failures: u32,
    pub window_secs: u64,
    pub lockout_secs: u64,
    pub address_failures: u32,
}

/// The effective configuration; secrets show as `********` when set, null when not.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MaskedConfig {
    pub auth_enabled: bool,
    pub admin_secret: Option<&'static str>,
    pub admin_register_secret: Option<&'static str>,
    pub session_expire_hours: u32,
    pub session_lifetime_secs: u32,
    pub session_signing_key: Option<&'static str>,
    pub cookie_secure: bool,
    pub allowed_origins: Vec<String>,
    pub argon2: Argon2Settings,
    pub login_throttle: ThrottleSettings,
    pub public_url: Option<String>,
    pub dispatch_webhook_url: Option<String>,
    pub dispatch_webhook_secret: Option<&'static str>,
    pub dispatch_timeout_ms: u64,
    pub audit_retention_days: u32,
    pub table_prefix: String,
    /// With `redis_cluster`, the seed URLs, comma-separated, each masked.
    pub redis_url: String,
    /// `REDIS_CLUSTER`: Redis is a Redis Cluster (cluster mode).
    pub redis_cluster: bool,
    pub store_timeout_ms: u64,
    /// `json` or `text`.
    pub log_format: &'static str,
    pub mfa_encryption_key: Option<&'static str>,
    /// The least role that must have a second factor; null when optional.
    pub mfa_required_role: Option<String>,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<&Config> for MaskedConfig {
    fn from(c: &Config) -> Self {
        let t = &c.login_throttle;
        Self {
            auth_enabled: c.auth_enabled,
            admin_secret: mask(&c.admin_secret),
            admin_register_secret: mask(&c.admin_register_secret),
            session_expire_hours: c.session_expire_hours,
            session_lifetime_secs: c.session_lifetime_secs,
            session_signing_key: mask(&c.session_signing_key),
            cookie_secure: c.cookie_secure,
            allowed_origins: c.allowed_origins.clone(),
            argon2: Argon2Settings {
                memory_kib: c.password_hashing.memory_kib,
                iterations: c.password_hashing.iterations,
                parallelism: c.password_hashing.parallelism,
            },
            login_throttle: ThrottleSettings {
                free_failures: t.free_failures,
                base_delay_ms: millis(t.base_delay),
                max_delay_secs: t.max_delay.as_secs(),
                lockout_failures: t.lockout_failures,
                window_secs: t.window.as_secs(),
                lockout_secs: t.lockout.as_secs(),
                address_failures: t.address_failures,
            },
            public_url: c.public_url.clone(),
            dispatch_webhook_url: c.dispatch_webhook_url.as_deref().map(redact_url_password),
            dispatch_webhook_secret: mask(&c.dispatch_webhook_secret),
            dispatch_timeout_ms: millis(c.dispatch_timeout),
            audit_retention_days: c.stores.audit_retention_days,
            table_prefix: c.stores.table_prefix.clone(),
            redis_url: if c.stores.redis_cluster {
                let seeds = c.stores.redis_url.expose_secret().split(',');
                seeds.map(|url| redact_url_password(url.trim())).collect::<Vec<_>>().join(",")
            } else {
                redact_url_password(c.stores.redis_url.expose_secret())
            },
            redis_cluster: c.stores.redis_cluster,
            store_timeout_ms: millis(c.stores.timeout),
            log_format: match c.log_format {
                LogFormat::Json => "json",
                LogFormat::Text => "text",
            },
            mfa_encryption_key: mask(&c.mfa_encryption_key),
            mfa_required_role: c.mfa_required_role.clone(),
        }
    }
}
