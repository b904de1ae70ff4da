//! Typed settings, read once at start from environment variables (the same names
//! for Lambda and the local server). See the README's configuration table.

use std::time::Duration;

use crate::env::{Env, EnvError};
use secrecy::SecretString;

/// Minimum length of `ADMIN_SECRET`, `ADMIN_REGISTER_SECRET` and the session
/// signing key: short shared secrets can be guessed.
pub const MIN_SECRET_LEN: usize = 32;

/// Everything a handler may need to know about the deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AUTH_ENABLED`: false makes every caller the built-in system admin.
    pub auth_enabled: bool,
    /// `ADMIN_SECRET`: the break-glass master key (`X-Admin-Secret`), off when unset.
    pub admin_secret: Option<SecretString>,
    /// `ADMIN_REGISTER_SECRET`: lets the first admin register while none is active.
    pub admin_register_secret: Option<SecretString>,
    /// `SESSION_EXPIRE_HOURS`: lifetime of a login session.
    pub session_expire_hours: u32,
    /// The session lifetime in seconds: `SESSION_EXPIRE_SECONDS` when set (for
    /// short-lived deployments and tests), else the hours above.
    pub session_lifetime_secs: u32,
    /// `SESSION_SIGNING_KEY`: HMAC key of session tokens; required when auth is on.
    pub session_signing_key: Option<SecretString>,
    /// `COOKIE_SECURE`: mark the session cookie `Secure` (off only for plain-http dev).
    pub cookie_secure: bool,
    /// `ALLOWED_ORIGINS`: origins besides the service's own that may send cookie-authenticated writes.
    pub allowed_origins: Vec<String>,
    /// `ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`, `ARGON2_PARALLELISM`.
    pub password_hashing: PasswordHashing,
    /// `LOGIN_*` throttling limits.
    pub login_throttle: LoginThrottle,
    /// `PUBLIC_URL`: the address users reach the service at (invitation links);
    /// unset, links use the address each request came to.
    pub public_url: Option<String>,
    /// `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGIN`, else from `PUBLIC_URL`: the
    /// passkeys' relying party; `None` leaves passkeys off (their endpoints answer 503).
    pub webauthn: Option<crate::mfa::passkey::rp::RpSettings>,
    /// `DISPATCH_WEBHOOK_URL`: where tasks are announced when they become `assigning`.
    pub dispatch_webhook_url: Option<String>,
    /// `DISPATCH_WEBHOOK_SECRET`: the HMAC key of the announcements (required with the URL).
    pub dispatch_webhook_secret: Option<SecretString>,
    /// `DISPATCH_TIMEOUT_MS`: how long a request spends announcing a task before
    /// leaving it to the retries.
    pub dispatch_timeout: Duration,
    /// `TABLE_PREFIX`, `REDIS_URL`, store timeouts, the audit retention.
    pub stores: StoreSettings,
    /// `LOG_FORMAT`: `json` or `text`; JSON by default under Lambda.
    pub log_format: LogFormat,
    /// `MFA_ENCRYPTION_KEY`: what TOTP secrets are encrypted with at rest
    /// (AES-256-GCM under the SHA-256 of this value, see `mfa::cipher`).
    /// Unset, TOTP can be neither enrolled nor checked (503).
    pub mfa_encryption_key: Option<SecretString>,
    /// `MFA_REQUIRED_ROLE`: the name of the least role that must have a second
    /// factor (one of [`STORED_ROLE_NAMES`]; see `mfa::policy` for what it
    /// restricts); unset, second factors are optional for everyone.
    pub mfa_required_role: Option<String>,
    /// `OIDC_PROVIDERS`: the OpenID providers users may log in with (see
    /// `oidc::config`); empty when unset.
    pub oidc_providers: Vec<crate::oidc::ProviderConfig>,
    /// `TOKEN_MAX_LIFETIME_DAYS` (1-3650): the longest a new API token may
    /// live; unset, tokens may never expire (see docs/tokens.md).
    pub token_max_lifetime_days: Option<u32>,
    /// `TOKEN_ROTATION_OVERLAP_SECS` (1-86400, default 600): how long a
    /// rotated token's old secret keeps working.
    pub token_rotation_overlap: Duration,
}

/// The roles a stored user can hold, by name. `MFA_REQUIRED_ROLE` must be one
/// of them. Kept here as names because this file sits below the `Role` type
/// in the crate's imports; `mfa::policy` checks the list matches `Role`.
pub const STORED_ROLE_NAMES: [&str; 4] = ["viewer", "user", "operator", "admin"];

/// Argon2id cost parameters (OWASP minimum by default: 19 MiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashing {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// `ARGON2_MAX_CONCURRENT`: hashes running at once in this process; more
    /// wait their turn. Defaults to one core fewer than the machine has (at
    /// least one), so a burst of logins never takes every core from the
    /// requests that need none.
    pub max_concurrent: u32,
}

/// One core fewer than the machine has, at least one.
fn default_hashing_slots() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_sub(1).max(1)).unwrap_or(1)
}

/// Failed-login throttling limits (see docs/auth.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Consecutive failures before an account starts waiting.
    pub free_failures: u32,
    /// The first wait; it doubles with each further failure.
    pub base_delay: Duration,
    /// The longest wait of the progressive delay.
    pub max_delay: Duration,
    /// Failures within `window` that lock the account for `lockout`.
    pub lockout_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
    /// Failures per client address within `window`.
    pub address_failures: u32,
}

/// How to reach the stores.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Prepended to every table name and Redis key, so runs can share a store.
    pub table_prefix: String,
    /// May carry a password, hence secret. With `redis_cluster`, one or more
    /// comma-separated seed URLs (nodes to learn the cluster's layout from).
    pub redis_url: SecretString,
    /// `REDIS_CLUSTER`: Redis runs in cluster mode (ElastiCache cluster mode
    /// enabled): keys are spread over several primaries by hash slot.
    pub redis_cluster: bool,
    /// Upper bound of one store call, retries included: a dead store must turn
    /// into a 503 quickly rather than hang a request.
    pub timeout: Duration,
    /// PEM certificates trusted for `rediss://` instead of the public roots
    /// (`REDIS_CA_FILE`): self-hosted Redis behind a private CA.
    pub redis_ca: Option<Vec<u8>>,
    /// `AUDIT_RETENTION_DAYS`: how long audit events are kept (DynamoDB TTL).
    /// Here because every store write that records an event needs it.
    pub audit_retention_days: u32,
}

impl StoreSettings {
    /// `TABLE_PREFIX`, `REDIS_URL`, `REDIS_CLUSTER`, `REDIS_CA_FILE`, `STORE_TIMEOUT_MS`,
    /// `AUDIT_RETENTION_DAYS`.
    pub fn from(env: &Env) -> Result<Self, EnvError> {
        let table_prefix = env.string_or("TABLE_PREFIX", "kohakuriver");
        if !table_prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || table_prefix.len() > 100
        {
            return Err(EnvError {
                var: "TABLE_PREFIX".into(),
                problem: format!(
                    "expected up to 100 characters of letters, digits, '-', '_' or '.', got {table_prefix:?}"
                ),
            });
        }
        let redis_url = env.string_or("REDIS_URL", "redis://127.0.0.1:6379");
        let redis_cluster = env.flag("REDIS_CLUSTER", false)?;
        let tls = redis_seed_urls(&redis_url, redis_cluster)?;
        let redis_ca = match env.get("REDIS_CA_FILE") {
            None => None,
            Some(_) if !tls => {
                return Err(EnvError {
                    var: "REDIS_CA_FILE".into(),
                    problem: "only applies to a rediss:// REDIS_URL (TLS)".into(),
                });
            }
            Some(path) => Some(crate::env::read_pem("REDIS_CA_FILE", path.as_ref(), "CERTIFICATE-----")?),
        };
        let audit_retention_days = env.number_in("AUDIT_RETENTION_DAYS", 365, 1..=3650)?;
        Ok(Self {
            table_prefix,
            redis_url: redis_url.into(),
            redis_cluster,
            redis_ca,
            audit_retention_days,
            timeout: Duration::from_millis(env.number_in("STORE_TIMEOUT_MS", 1500, 100..=30_000)?),
        })
    }
}

/// Checks `REDIS_URL`: one `redis://` or `rediss://` URL, or with
/// `REDIS_CLUSTER` a comma-separated list of seed URLs that all use TLS or
/// none (the cluster client speaks one way to every node). Answers whether
/// the URLs use TLS. The value may hold a password, so no problem shows it.
fn redis_seed_urls(value: &str, cluster: bool) -> Result<bool, EnvError> {
    let problem = |problem: &str| EnvError { var: "REDIS_URL".into(), problem: problem.into() };
    if !cluster {
        // One URL, taken whole (a password may hold a comma).
        if redis::parse_redis_url(value).is_some() {
            return Ok(value.starts_with("rediss://"));
        }
        return Err(problem(if value.contains(',') {
            "expected a redis:// or rediss:// URL; a list of seed URLs needs REDIS_CLUSTER=true (the value is not shown)"
        } else {
            "expected a redis:// or rediss:// URL (the value is not shown)"
        }));
    }
    let urls = StoreSettings::seed_urls(value);
    if urls.is_empty() || urls.iter().any(|url| redis::parse_redis_url(url).is_none()) {
        return Err(problem("expected redis:// or rediss:// URLs, comma-separated (the value is not shown)"));
    }
    let tls = urls[0].starts_with("rediss://");
    if urls.iter().any(|url| url.starts_with("rediss://") != tls) {
        return Err(problem("the seed URLs mix redis:// and rediss:// (the value is not shown)"));
    }
    Ok(tls)
}

impl StoreSettings {
    /// The seed URLs of a cluster's `REDIS_URL` (comma-separated; a comma in
    /// a password is written `%2C`).
    pub fn seed_urls(value: &str) -> Vec<&str> {
        value.split(',').map(str::trim).filter(|url| !url.is_empty()).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from(&Env::process())
    }

    /// Reads the process environment, or prints the one problem and exits: a
    /// misconfigured process must stop at start, not at its first request.
    pub fn load_or_exit() -> Self {
        Self::from_env().unwrap_or_else(|err| exit_with(&err))
    }

    /// Reads the given source; every problem names its variable.
    pub fn from(env: &Env) -> Result<Self, EnvError> {
        let auth_enabled = env.flag("AUTH_ENABLED", true)?;
        let session_signing_key = env.secret("SESSION_SIGNING_KEY", MIN_SECRET_LEN)?;
        if auth_enabled && session_signing_key.is_none() {
            return Err(EnvError {
                var: "SESSION_SIGNING_KEY".into(),
                problem: format!("required while AUTH_ENABLED is true (at least {MIN_SECRET_LEN} random characters)"),
            });
        }
        let dispatch_webhook_url = env.get("DISPATCH_WEBHOOK_URL");
        if let Some(url) = &dispatch_webhook_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(EnvError {
                var: "DISPATCH_WEBHOOK_URL".into(),
                problem: "expected an http:// or https:// URL".into(),
            });
        }
        let session_expire_hours = env.number_in("SESSION_EXPIRE_HOURS", 24, 1..=8760)?;
        let public_url = env.get("PUBLIC_URL");
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(EnvError { var: "PUBLIC_URL".into(), problem: "expected an http:// or https:// URL".into() });
        }
        let webauthn = crate::mfa::passkey::rp::RpSettings::from_env(env, public_url.as_deref())?;
        let dispatch_webhook_secret = env.secret("DISPATCH_WEBHOOK_SECRET", MIN_SECRET_LEN)?;
        if dispatch_webhook_url.is_some() && dispatch_webhook_secret.is_none() {
            return Err(EnvError {
                var: "DISPATCH_WEBHOOK_SECRET".into(),
                problem: format!("required with DISPATCH_WEBHOOK_URL (at least {MIN_SECRET_LEN} characters)"),
            });
        }
        let under_lambda = env.get("AWS_LAMBDA_RUNTIME_API").is_some();
        let log_format = match env.get("LOG_FORMAT").as_deref().map(str::to_ascii_lowercase) {
            None => {
                if under_lambda {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                }
            }
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) => {
                return Err(EnvError {
                    var: "LOG_FORMAT".into(),
                    problem: format!("expected json or text, got {v:?}"),
                });
            }
        };
        let oidc_providers = crate::oidc::config::from_env(env)?;
        if !oidc_providers.is_empty() && public_url.is_none() {
            return Err(EnvError {
                var: "PUBLIC_URL".into(),
                problem: "required with OIDC_PROVIDERS: the callback URL registered at the providers is built from it"
                    .into(),
            });
        }
        Ok(Self {
            auth_enabled,
            admin_secret: env.secret("ADMIN_SECRET", MIN_SECRET_LEN)?,
            admin_register_secret: env.secret("ADMIN_REGISTER_SECRET", MIN_SECRET_LEN)?,
            session_expire_hours,
            session_lifetime_secs: env.number_in(
                "SESSION_EXPIRE_SECONDS",
                session_expire_hours * 3600,
                1..=8760 * 3600,
            )?,
            session_signing_key,
            cookie_secure: env.flag("COOKIE_SECURE", true)?,
            allowed_origins: env.list("ALLOWED_ORIGINS"),
            password_hashing: PasswordHashing {
                memory_kib: env.number_in("ARGON2_MEMORY_KIB", 19_456, 8..=4_194_304)?,
                iterations: env.number_in("ARGON2_ITERATIONS", 2, 1..=100)?,
                parallelism: env.number_in("ARGON2_PARALLELISM", 1, 1..=16)?,
                max_concurrent: env.number_in("ARGON2_MAX_CONCURRENT", default_hashing_slots(), 1..=1024)?,
            },
            login_throttle: LoginThrottle {
                free_failures: env.number_in("LOGIN_FREE_FAILURES", 5, 1..=1000)?,
                base_delay: Duration::from_millis(env.number_in("LOGIN_BASE_DELAY_MS", 1000, 1..=3_600_000)?),
                max_delay: Duration::from_secs(env.number_in("LOGIN_MAX_DELAY_SECS", 900, 1..=86_400)?),
                lockout_failures: env.number_in("LOGIN_LOCKOUT_FAILURES", 10, 1..=10_000)?,
                window: Duration::from_secs(env.number_in("LOGIN_WINDOW_SECS", 900, 1..=86_400)?),
                lockout: Duration::from_secs(env.number_in("LOGIN_LOCKOUT_SECS", 900, 1..=86_400)?),
                address_failures: env.number_in("LOGIN_ADDRESS_FAILURES", 100, 1..=1_000_000)?,
            },
            public_url,
            webauthn,
            dispatch_webhook_url,
            dispatch_webhook_secret,
            dispatch_timeout: Duration::from_millis(env.number_in("DISPATCH_TIMEOUT_MS", 2000, 100..=30_000)?),
            stores: StoreSettings::from(env)?,
            log_format,
            mfa_encryption_key: env.secret("MFA_ENCRYPTION_KEY", MIN_SECRET_LEN)?,
            mfa_required_role: mfa_required_role(env)?,
            oidc_providers,
            token_max_lifetime_days: match env.get("TOKEN_MAX_LIFETIME_DAYS") {
                None => None,
                Some(_) => Some(env.number_in("TOKEN_MAX_LIFETIME_DAYS", 0, 1..=3650)?),
            },
            token_rotation_overlap: Duration::from_secs(env.number_in(
                "TOKEN_ROTATION_OVERLAP_SECS",
                600,
                1..=86_400,
            )?),
        })
    }
}

/// `MFA_REQUIRED_ROLE`: unset, or the name of a stored role.
fn mfa_required_role(env: &Env) -> Result<Option<String>, EnvError> {
    match env.get("MFA_REQUIRED_ROLE").map(|raw| raw.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(name) if STORED_ROLE_NAMES.contains(&name.as_str()) => Ok(Some(name)),
        Some(name) => Err(EnvError {
            var: "MFA_REQUIRED_ROLE".into(),
            problem: format!("expected one of {}, got {name:?}", STORED_ROLE_NAMES.join(", ")),
        }),
    }
}

/// Prints a configuration problem as one line and exits with status 2.
pub fn exit_with(err: &EnvError) -> ! {
    eprintln!("{err}");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_follow_the_spec() {
        let config = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY)])).expect("valid");
        assert!(config.auth_enabled);
        assert_eq!(config.session_expire_hours, 24);
        assert!(config.cookie_secure);
        assert_eq!(
            config.password_hashing,
            PasswordHashing {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
                max_concurrent: default_hashing_slots()
            }
        );
        assert_eq!(config.login_throttle.free_failures, 5);
        assert_eq!(config.login_throttle.lockout_failures, 10);
        assert_eq!(config.login_throttle.address_failures, 100);
        assert!(config.admin_secret.is_none());
        assert_eq!(config.log_format, LogFormat::Text);
    }

    #[test]
    fn the_signing_key_is_required_only_while_auth_is_on() {
        let err = Config::from(&Env::from_map::<&str, &str>([])).expect_err("no key");
        assert_eq!(err.var, "SESSION_SIGNING_KEY");
        Config::from(&Env::from_map([("AUTH_ENABLED", "false")])).expect("auth off needs no key");
    }

    #[test]
    fn a_short_admin_secret_stops_the_start() {
        let err = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("ADMIN_SECRET", "short")]))
            .expect_err("too short");
        assert_eq!(err.var, "ADMIN_SECRET");
    }

    #[test]
    fn a_bad_redis_url_and_prefix_are_refused() {
        let err = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("REDIS_URL", "http://x")]))
            .expect_err("not redis");
        assert_eq!(err.var, "REDIS_URL");
        let err =
            Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("TABLE_PREFIX", "a b")])).expect_err("space");
        assert_eq!(err.var, "TABLE_PREFIX");
    }

    #[test]
    fn redis_cluster_takes_seed_urls() {
        let config = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY)])).expect("valid");
        assert!(!config.stores.redis_cluster, "off by default");
        let seeds = "redis://10.0.0.1:6379, redis://10.0.0.2:6379";
        let config = Config::from(&Env::from_map([
            ("SESSION_SIGNING_KEY", KEY),
            ("REDIS_CLUSTER", "true"),
            ("REDIS_URL", seeds),
        ]))
        .expect("a seed list with cluster mode");
        assert!(config.stores.redis_cluster);
        assert_eq!(StoreSettings::seed_urls(config.stores.redis_url.expose_secret()).len(), 2);
        let refused = |pairs: &[(&'static str, &'static str)]| {
            let mut env = vec![("SESSION_SIGNING_KEY", KEY)];
            env.extend_from_slice(pairs);
            Config::from(&Env::from_map(env)).expect_err("refused")
        };
        assert_eq!(refused(&[("REDIS_URL", seeds)]).var, "REDIS_URL", "a list needs cluster mode");
        assert_eq!(refused(&[("REDIS_CLUSTER", "yes please")]).var, "REDIS_CLUSTER");
        let mixed = [("REDIS_CLUSTER", "true"), ("REDIS_URL", "redis://a:1,rediss://b:2")];
        assert_eq!(refused(&mixed).var, "REDIS_URL", "TLS for some seeds only");
        let bad = [("REDIS_CLUSTER", "true"), ("REDIS_URL", "redis://a:1,http://b")];
        assert_eq!(refused(&bad).var, "REDIS_URL");
        assert_eq!(refused(&[("REDIS_CLUSTER", "true"), ("REDIS_URL", " , ")]).var, "REDIS_URL");
        let err = refused(&[("REDIS_CLUSTER", "true"), ("REDIS_URL", "redis://:hunter2@a:1,nope")]);
        assert!(!err.to_string().contains("hunter2"), "the value is not shown");
    }

    #[test]
    fn second_factor_settings_are_checked_at_start() {
        let config = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY)])).expect("valid");
        assert!(config.mfa_encryption_key.is_none() && config.mfa_required_role.is_none(), "both optional");
        let err = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("MFA_ENCRYPTION_KEY", "too-short")]))
            .expect_err("a short key");
        assert_eq!(err.var, "MFA_ENCRYPTION_KEY");
        assert!(!err.to_string().contains("too-short"), "the value is not shown");
        let err = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("MFA_REQUIRED_ROLE", "root")]))
            .expect_err("not a role");
        assert_eq!(err.var, "MFA_REQUIRED_ROLE");
        let err = Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("MFA_REQUIRED_ROLE", "anony")]))
            .expect_err("no stored user is anony");
        assert_eq!(err.var, "MFA_REQUIRED_ROLE");
        let config = Config::from(&Env::from_map([
            ("SESSION_SIGNING_KEY", KEY),
            ("MFA_ENCRYPTION_KEY", KEY),
            ("MFA_REQUIRED_ROLE", "Operator"),
        ]))
        .expect("valid");
        assert_eq!(config.mfa_required_role.as_deref(), Some("operator"));
        assert!(config.mfa_encryption_key.is_some());
    }

    #[test]
    fn json_logs_under_lambda() {
        let config =
            Config::from(&Env::from_map([("SESSION_SIGNING_KEY", KEY), ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]))
                .expect("valid");
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn masked_config_shows_no_secret() {
        let config = Config::from(&Env::from_map([
            ("SESSION_SIGNING_KEY", KEY),
            ("ADMIN_SECRET", "A-very-long-admin-secret-value-0123456789"),
            ("REDIS_URL", "redis://default:topsecretpw@cache:6379/0"),
            ("MFA_ENCRYPTION_KEY", "the-totp-encryption-key-0123456789abcdef"),
        ]))
        .expect("valid");
        let text = serde_json::to_string(&crate::masked::MaskedConfig::from(&config)).expect("json");
        assert!(!text.contains("the-totp-encryption-key"));
        assert!(text.contains(r#""mfa_encryption_key":"********""#));
        assert!(!text.contains(KEY));
        assert!(!text.contains("A-very-long-admin-secret"));
        assert!(!text.contains("topsecretpw"));
        assert!(text.contains("redis://default:********@cache:6379/0"));
    }

    #[test]
    fn masked_config_masks_every_cluster_seed() {
        let config = Config::from(&Env::from_map([
            ("SESSION_SIGNING_KEY", KEY),
            ("REDIS_CLUSTER", "true"),
            ("REDIS_URL", "redis://a:firstsecret@n1:6379,redis://b:secondsecret@n2:6379"),
        ]))
        .expect("valid");
        let masked = serde_json::to_value(crate::masked::MaskedConfig::from(&config)).expect("json");
        assert_eq!(masked["redis_url"], "redis://a:********@n1:6379,redis://b:********@n2:6379");
        assert_eq!(masked["redis_cluster"], true);
    }
}
