//! The API shapes of single sign-on.

use serde::Serialize;

use super::config::{GroupRule, MfaRule, RoleRule};
use super::{ProviderConfig, SyncMode};

/// A provider users may log in with (`GET /api/auth/oidc/providers`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub name: String,
}

impl From<&ProviderConfig> for ProviderView {
    fn from(p: &ProviderConfig) -> Self {
        Self { id: p.id.clone(), name: p.name.clone() }
    }
}

/// A provider's whole configuration as admins see it: the client secret
/// masked (`********`), with the name of the variable it comes from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderSettingsView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: &'static str,
    pub client_secret_env: String,
    pub redirect_uri: String,
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

impl ProviderSettingsView {
    pub fn new(p: &ProviderConfig, redirect_uri: String) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            issuer: p.issuer.clone(),
            client_id: p.client_id.clone(),
            client_secret: "********",
            client_secret_env: p.client_secret_env.clone(),
            redirect_uri,
            scopes: p.scopes.clone(),
            username_claim: p.username_claim.clone(),
            provision: p.provision,
            sync: p.sync,
            roles: p.roles.clone(),
            default_role: p.default_role.clone(),
            max_role: p.max_role.clone(),
            groups: p.groups.clone(),
            mfa: p.mfa.clone(),
            logout: p.logout,
        }
    }
}

/// `POST /api/auth/oidc/{provider}/link`: where to send the browser.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkStart {
    pub url: String,
}
