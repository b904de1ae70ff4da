//! `OIDC_PROVIDERS`: the OpenID providers users may log in with, read and
//! checked once at start (a problem names the provider and the field).
//!
//! The variable holds the JSON list itself (it starts with `[`), or the path
//! of a `.json` file with that list or of a `.toml` file with `[[providers]]`
//! tables. Client secrets are never in it: each provider names the
//! environment variable that holds its secret (`client_secret_env`); under
//! Lambda the template fills those from Secrets Manager (see docs/sso.md).

use std::collections::BTreeSet;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::env::{Env, EnvError};

/// The roles a provider's rules may name, lowest first (the stored roles;
/// `anony` is nobody's role). Kept as names: this file sits below `Role`.
const ROLES: [&str; 4] = ["viewer", "user", "operator", "admin"];

/// Whether the provider's rules apply at every login or only at the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    EveryLogin,
    FirstLogin,
}

/// `claim` contains (an element of a list, or the whole string) or equals
/// `value` → `role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    /// A claim of the ID token; a dotted path (`realm_access.roles`) reaches
    /// into objects.
    pub claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    pub role: String,
}

/// `claim` contains `contains` → membership of the group named `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    pub claim: String,
    pub contains: String,
    pub group: String,
}

/// When a provider login counts as a second factor: the ID token's `amr`
/// holds one of `amr_any`, or its `acr` is one of `acr_any`. Both empty:
/// never.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRule {
    #[serde(default)]
    pub amr_any: Vec<String>,
    #[serde(default)]
    pub acr_any: Vec<String>,
}

/// One provider as written in `OIDC_PROVIDERS`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    name: String,
    issuer: String,
    client_id: String,
    client_secret_env: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    username_claim: Option<String>,
    #[serde(default)]
    provision: bool,
    #[serde(default)]
    sync: Option<SyncMode>,
    #[serde(default)]
    roles: Vec<RoleRule>,
    #[serde(default)]
    default_role: Option<String>,
    #[serde(default)]
    max_role: Option<String>,
    #[serde(default)]
    groups: Vec<GroupRule>,
    #[serde(default)]
    mfa: MfaRule,
    #[serde(default)]
    logout: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    providers: Vec<serde_json::Value>,
}

/// A checked provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `[a-z0-9_-]{1,32}`: in URLs and Redis keys.
    pub id: String,
    pub name: String,
    /// Without a trailing slash, as the provider's discovery names it.
    pub issuer: String,
    pub client_id: String,
    /// The name of the variable the secret came from (shown to admins).
    pub client_secret_env: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub provision: bool,
    pub sync: SyncMode,
    pub roles: Vec<RoleRule>,
    pub default_role: String,
    pub max_role: String,
    pub groups: Vec<GroupRule>,
    pub mfa: MfaRule,
    pub logout: bool,
}

const VAR: &str = "OIDC_PROVIDERS";

fn problem(text: impl Into<String>) -> EnvError {
    EnvError { var: VAR.into(), problem: text.into() }
}

/// Reads `OIDC_PROVIDERS` (none when unset). Secrets come from the variables
/// the providers name; with `OIDC_CLIENT_SECRETS` (a JSON object of name →
/// secret, what the Lambda template passes from Secrets Manager) a name is
/// looked up there first.
pub fn from_env(env: &Env) -> Result<Vec<ProviderConfig>, EnvError> {
    let Some(raw) = env.get(VAR).filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let trimmed = raw.trim();
    // Read as plain values first, so a problem inside one provider can name it.
    let providers: Vec<serde_json::Value> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| problem(format!("not a valid provider list: {e}")))?
    } else {
        let text = std::fs::read_to_string(trimmed)
            .map_err(|e| problem(format!("expected a JSON list or a file path; reading {trimmed:?}: {e}")))?;
        if trimmed.ends_with(".toml") {
            let file: TomlFile =
                toml::from_str(&text).map_err(|e| problem(format!("{trimmed}: not a valid provider file: {e}")))?;
            file.providers
        } else {
            serde_json::from_str(&text).map_err(|e| problem(format!("{trimmed}: not a valid provider list: {e}")))?
        }
    };
    let bundle = secrets_bundle(env)?;
    let mut seen = BTreeSet::new();
    let mut checked = Vec::with_capacity(providers.len());
    for (i, value) in providers.into_iter().enumerate() {
        let label = match value.get("id").and_then(|id| id.as_str()).filter(|id| !id.is_empty()) {
            Some(id) => format!("provider {id:?}"),
            None => format!("providers[{i}]"),
        };
        let raw: RawProvider = serde_json::from_value(value).map_err(|e| problem(format!("{label}: {e}")))?;
        let provider =
            check(raw, env, bundle.as_ref()).map_err(|(field, text)| problem(format!("{label}: {field}: {text}")))?;
        if !seen.insert(provider.id.clone()) {
            return Err(problem(format!("{label}: id: used by two providers")));
        }
        checked.push(provider);
    }
    Ok(checked)
}

/// `OIDC_CLIENT_SECRETS`, if set: a JSON object of secret name → value.
fn secrets_bundle(env: &Env) -> Result<Option<serde_json::Map<String, serde_json::Value>>, EnvError> {
    let Some(raw) = env.get("OIDC_CLIENT_SECRETS").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    serde_json::from_str(&raw).map(Some).map_err(|_| EnvError {
        var: "OIDC_CLIENT_SECRETS".into(),
        problem: "expected a JSON object of secret name to value (the value is not shown)".into(),
    })
}

type FieldProblem = (String, String);

fn field(name: &str, text: impl Into<String>) -> FieldProblem {
    (name.to_owned(), text.into())
}

fn rank(field_name: &str, role: &str) -> Result<usize, FieldProblem> {
    ROLES
        .iter()
        .position(|r| *r == role)
        .ok_or_else(|| field(field_name, format!("expected one of {}, got {role:?}", ROLES.join(", "))))
}

/// Whether `issuer` may be used: `https://`, or `http://` on a loopback host
/// only (a provider on the same machine, as in development and the tests).
pub fn issuer_allowed(issuer: &str) -> bool {
    if issuer.starts_with("https://") {
        return true;
    }
    let Some(rest) = issuer.strip_prefix("http://") else { return false };
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check(
    raw: RawProvider,
    env: &Env,
    bundle: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<ProviderConfig, FieldProblem> {
    if raw.id.is_empty()
        || raw.id.len() > 32
        || !raw.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(field("id", "1 to 32 characters of a-z, 0-9, '-' and '_'"));
    }
    let name = raw.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(field("name", "1 to 64 characters"));
    }
    let issuer = raw.issuer.trim().trim_end_matches('/').to_owned();
    if !issuer_allowed(&issuer) {
        return Err(field("issuer", "expected an https:// URL (http:// only on a loopback address)"));
    }
    if url_host_missing(&issuer) {
        return Err(field("issuer", "not a URL with a host"));
    }
    if raw.client_id.trim().is_empty() {
        return Err(field("client_id", "required"));
    }
    let secret_name = raw.client_secret_env.trim().to_owned();
    if secret_name.is_empty() {
        return Err(field("client_secret_env", "required: the name of the variable holding the client secret"));
    }
    let from_bundle = bundle.and_then(|b| b.get(&secret_name)).and_then(|v| v.as_str()).map(str::to_owned);
    let secret = from_bundle.or_else(|| env.get(&secret_name)).filter(|s| !s.is_empty()).ok_or_else(|| {
        field("client_secret_env", format!("the variable {secret_name} is not set (it must hold the client secret)"))
    })?;
    let mut scopes = raw.scopes.unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if scopes.iter().any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
        return Err(field("scopes", "each scope is one non-empty word"));
    }
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let username_claim = raw.username_claim.unwrap_or_else(|| "preferred_username".into());
    if username_claim.trim().is_empty() {
        return Err(field("username_claim", "must name a claim"));
    }
    let default_role = raw.default_role.unwrap_or_else(|| "user".into());
    let max_role = raw.max_role.unwrap_or_else(|| "operator".into());
    let ceiling = rank("max_role", &max_role)?;
    if rank("default_role", &default_role)? > ceiling {
        return Err(field("default_role", format!("{default_role} is above max_role {max_role}")));
    }
    for (i, rule) in raw.roles.iter().enumerate() {
        let at = format!("roles[{i}]");
        if rule.claim.trim().is_empty() {
            return Err(field(&format!("{at}.claim"), "must name a claim"));
        }
        if rule.contains.is_some() == rule.equals.is_some() {
            return Err(field(&at, "give exactly one of contains and equals"));
        }
        if rank(&format!("{at}.role"), &rule.role)? > ceiling {
            return Err(field(&format!("{at}.role"), format!("{} is above max_role {max_role}", rule.role)));
        }
    }
    for (i, rule) in raw.groups.iter().enumerate() {
        if rule.claim.trim().is_empty() || rule.contains.is_empty() || rule.group.trim().is_empty() {
            return Err(field(&format!("groups[{i}]"), "claim, contains and group are all required"));
        }
    }
    Ok(ProviderConfig {
        id: raw.id,
        name,
        issuer,
        client_id: raw.client_id.trim().to_owned(),
        client_secret_env: secret_name,
        client_secret: secret.into(),
        scopes,
        username_claim,
        provision: raw.provision,
        sync: raw.sync.unwrap_or(SyncMode::EveryLogin),
        roles: raw.roles,
        default_role,
        max_role,
        groups: raw.groups,
        mfa: raw.mfa,
        logout: raw.logout,
    })
}

fn url_host_missing(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    rest.split('/').next().unwrap_or("").split(':').next().unwrap_or("").is_empty() && !rest.starts_with('[')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> Env {
        Env::from_map([(VAR, value), ("KC_SECRET", "s3cret-value")])
    }

    fn one(extra: &str) -> String {
        format!(
            r#"[{{"id":"kc","name":"Keycloak","issuer":"https://id.example.org/realms/lab","client_id":"krv",
                 "client_secret_env":"KC_SECRET"{extra}}}]"#
        )
    }

    #[test]
    fn a_minimal_provider_gets_the_defaults() {
        let providers = from_env(&env(&one(""))).expect("valid");
        let p = &providers[0];
        assert_eq!(p.scopes, ["openid", "email", "profile"]);
        assert_eq!(p.username_claim, "preferred_username");
        assert_eq!((p.default_role.as_str(), p.max_role.as_str()), ("user", "operator"));
        assert_eq!(p.sync, SyncMode::EveryLogin);
        assert!(!p.provision && !p.logout);
    }

    #[test]
    fn problems_name_the_provider_and_the_field() {
        let cases = [
            (r#","issuer2":1"#, "provider \"kc\": unknown field `issuer2`"),
            (r#","roles":[{"claim":"groups","contains":"a","role":"root"}]"#, "roles[0].role"),
            (r#","roles":[{"claim":"groups","contains":"a","role":"admin"}]"#, "above max_role"),
            (r#","roles":[{"claim":"groups","role":"user"}]"#, "exactly one of"),
            (r#","default_role":"admin""#, "default_role"),
            (r#","sync":"sometimes""#, "provider \"kc\": unknown variant `sometimes`"),
        ];
        for (extra, expected) in cases {
            let err = from_env(&env(&one(extra))).expect_err(extra);
            assert_eq!(err.var, VAR);
            assert!(err.problem.contains(expected), "{extra}: {}", err.problem);
        }
        let err = from_env(&Env::from_map([(VAR, one(""))])).expect_err("no secret");
        assert!(err.problem.contains("provider \"kc\": client_secret_env"), "{}", err.problem);
        assert!(!err.problem.contains("s3cret"));
    }

    #[test]
    fn plain_http_issuers_only_on_loopback() {
        assert!(issuer_allowed("https://login.example.org"));
        assert!(issuer_allowed("http://127.0.0.1:8080"));
        assert!(issuer_allowed("http://[::1]:8080/realm"));
        assert!(issuer_allowed("http://localhost:9000"));
        assert!(!issuer_allowed("http://10.0.0.5"));
        assert!(!issuer_allowed("http://127.0.0.1.evil.example"));
        assert!(!issuer_allowed("ftp://x"));
    }
}
