//! Role, groups and second-factor credit from a verified ID token's claims,
//! by the provider's rules (docs/sso.md, "Mapping").
//!
//! A claim is named by its key, or by a dotted path into objects
//! (`realm_access.roles`, Keycloak's realm roles). A rule's `contains` holds
//! when the claim is a list with that element or a string equal to it;
//! `equals` when the claim is that string (numbers and booleans compare by
//! their JSON text).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::ProviderConfig;
use crate::types::Role;

pub type Claims = Map<String, Value>;

/// The claim at `path`: the key itself first, then a dotted path.
pub fn claim<'a>(claims: &'a Claims, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether the claim at `path` contains `wanted`.
pub fn contains(claims: &Claims, path: &str, wanted: &str) -> bool {
    match claim(claims, path) {
        Some(Value::Array(items)) => items.iter().filter_map(text).any(|t| t == wanted),
        Some(other) => text(other).is_some_and(|t| t == wanted),
        None => false,
    }
}

/// Whether the claim at `path` equals `wanted`.
pub fn equals(claims: &Claims, path: &str, wanted: &str) -> bool {
    claim(claims, path).and_then(text).is_some_and(|t| t == wanted)
}

/// The claim at `path` as a string, if it is one (and not blank).
pub fn string(claims: &Claims, path: &str) -> Option<String> {
    claim(claims, path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn role_named(name: &str) -> Role {
    // Names were checked at start (`config.rs`); viewer is the safe fallback.
    name.parse().unwrap_or(Role::Viewer)
}

/// The role the claims give: the highest of the matching rules, else the
/// default; never above the ceiling.
pub fn role(provider: &ProviderConfig, claims: &Claims) -> Role {
    let matched = provider
        .roles
        .iter()
        .filter(|rule| match (&rule.contains, &rule.equals) {
            (Some(value), _) => contains(claims, &rule.claim, value),
            (None, Some(value)) => equals(claims, &rule.claim, value),
            (None, None) => false,
        })
        .map(|rule| role_named(&rule.role))
        .max();
    matched.unwrap_or_else(|| role_named(&provider.default_role)).min(role_named(&provider.max_role))
}

/// The groups the provider's rules manage (every group a rule names), and
/// those of them the claims put the user in. Groups no rule names are the
/// admins' to manage and are left alone.
pub fn groups(provider: &ProviderConfig, claims: &Claims) -> (BTreeSet<String>, BTreeSet<String>) {
    let managed = provider.groups.iter().map(|rule| rule.group.clone()).collect();
    let wanted = provider
        .groups
        .iter()
        .filter(|rule| contains(claims, &rule.claim, &rule.contains))
        .map(|rule| rule.group.clone())
        .collect();
    (managed, wanted)
}

/// Whether the provider vouches for a second factor in this login: its `amr`
/// (a list) holds one of `amr_any`, or its `acr` is one of `acr_any`.
pub fn mfa_satisfied(provider: &ProviderConfig, claims: &Claims) -> bool {
    let by_amr = provider.mfa.amr_any.iter().any(|method| contains(claims, "amr", method));
    let by_acr = string(claims, "acr").is_some_and(|acr| provider.mfa.acr_any.contains(&acr));
    by_amr || by_acr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use serde_json::json;

    fn provider(rules: &str) -> ProviderConfig {
        let list = format!(
            r#"[{{"id":"p","name":"P","issuer":"https://idp.example","client_id":"c","client_secret_env":"S"{rules}}}]"#
        );
        let env = Env::from_map([("OIDC_PROVIDERS", list.as_str()), ("S", "secret")]);
        super::super::config::from_env(&env).expect("valid").remove(0)
    }

    fn claims(value: Value) -> Claims {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn the_highest_matching_role_wins_under_the_ceiling() {
        let p = provider(
            r#","max_role":"admin","default_role":"viewer","roles":[
                {"claim":"groups","contains":"staff","role":"user"},
                {"claim":"groups","contains":"hpc-admins","role":"admin"},
                {"claim":"realm_access.roles","contains":"ops","role":"operator"},
                {"claim":"dept","equals":"it","role":"operator"}]"#,
        );
        assert_eq!(role(&p, &claims(json!({"groups": ["staff", "hpc-admins"]}))), Role::Admin);
        assert_eq!(role(&p, &claims(json!({"groups": ["staff"]}))), Role::User);
        assert_eq!(role(&p, &claims(json!({"realm_access": {"roles": ["ops"]}}))), Role::Operator);
        assert_eq!(role(&p, &claims(json!({"dept": "it"}))), Role::Operator);
        assert_eq!(role(&p, &claims(json!({"groups": "staff"}))), Role::User, "a string claim");
        assert_eq!(role(&p, &claims(json!({}))), Role::Viewer, "the default");
        let capped =
            provider(r#","roles":[{"claim":"groups","contains":"x","role":"operator"}],"max_role":"operator""#);
        assert_eq!(role(&capped, &claims(json!({"groups": ["x"]}))), Role::Operator);
    }

    #[test]
    fn groups_and_mfa_follow_their_rules() {
        let p = provider(
            r#","groups":[{"claim":"groups","contains":"team-a","group":"team-a"},
                          {"claim":"groups","contains":"team-b","group":"Team B"}],
               "mfa":{"amr_any":["mfa","otp"],"acr_any":["gold"]}"#,
        );
        let (managed, wanted) = groups(&p, &claims(json!({"groups": ["team-a"]})));
        assert_eq!(managed.len(), 2);
        assert_eq!(wanted.into_iter().collect::<Vec<_>>(), ["team-a"]);
        assert!(mfa_satisfied(&p, &claims(json!({"amr": ["pwd", "otp"]}))));
        assert!(mfa_satisfied(&p, &claims(json!({"acr": "gold"}))));
        assert!(!mfa_satisfied(&p, &claims(json!({"amr": ["pwd"], "acr": "silver"}))));
        assert!(!mfa_satisfied(&provider(""), &claims(json!({"amr": ["mfa"]}))), "no rule: never");
    }
}
