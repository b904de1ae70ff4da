//! Single sign-on (SPEC §11): the service as an OpenID Connect relying party.
//!
//! - `config.rs`: `OIDC_PROVIDERS`, checked at start;
//! - `http.rs`: the HTTP client the `openidconnect` crate talks through;
//! - `discovery.rs`: discovery documents and key sets, cached in Redis;
//! - `flow.rs`: the authorization request (PKCE, `state`, `nonce` in Redis)
//!   and the callback's code exchange and ID token verification;
//! - `store.rs`: the external identities in DynamoDB;
//! - `mapping.rs`: role and groups from the ID token's claims;
//! - `provision.rs`: a verified login → the user it links to (provisioned,
//!   linked or synced);
//! - `cli.rs`: the one-time code that hands a browser login to the CLI;
//! - `browser.rs`: the binding cookie, the panel pages a callback lands on,
//!   the provider's logout URL;
//! - `view.rs`: the API shapes.
//!
//! docs/sso.md describes the model for operators.

pub mod browser;
pub mod cli;
pub mod config;
pub mod discovery;
pub mod flow;
pub mod http;
pub mod mapping;
pub mod provision;
pub mod store;
pub mod view;

pub use config::{ProviderConfig, SyncMode};

use crate::db::StoreError;

/// The providers of this deployment and the HTTP client that reaches them,
/// built once per process (see `http::AppState`).
#[derive(Debug, Clone)]
pub struct Registry {
    pub providers: Vec<ProviderConfig>,
    pub http: reqwest::Client,
}

impl Registry {
    pub fn new(providers: Vec<ProviderConfig>) -> Result<Self, StoreError> {
        Ok(Self { providers, http: http::client()? })
    }

    /// The provider with `id`, if configured.
    pub fn get(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }
}

/// Why a single sign-on step failed. Each has a short sentence for the login
/// page (`/login?sso_error=…`); none carries a token or a secret.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("Unknown sign-in provider")]
    UnknownProvider,
    #[error("The sign-in expired or was already used; please try again")]
    InvalidState,
    #[error("The sign-in was started in another browser or for another provider; please try again")]
    ForeignState,
    #[error("The provider refused the sign-in ({0})")]
    Provider(String),
    #[error("The provider could not be reached; please try again later")]
    Unreachable(String),
    #[error("The provider's answer could not be verified ({0})")]
    Rejected(String),
    #[error("No account is linked to this identity, and this provider does not create accounts; ask an administrator")]
    ProvisioningRefused,
    #[error("This identity is already linked to another account")]
    LinkedElsewhere,
    #[error("This account is disabled")]
    Disabled,
    #[error("This login would demote the last active admin; ask another administrator to take over first")]
    LastAdmin,
    #[error("No usable username in the provider's claims")]
    NoUsername,
    /// A service account never signs in, nor is linked to an identity.
    #[error("This is a service account: it cannot sign in or be linked to a sign-in identity")]
    ServiceAccount,
    #[error("The service is temporarily unavailable; please try again")]
    Store(#[from] StoreError),
}

impl OidcError {
    /// The short machine name recorded in audit events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::InvalidState => "invalid_state",
            Self::ForeignState => "foreign_state",
            Self::Provider(_) => "provider_error",
            Self::Unreachable(_) => "provider_unreachable",
            Self::Rejected(_) => "id_token_rejected",
            Self::ProvisioningRefused => "provisioning_refused",
            Self::LinkedElsewhere => "linked_elsewhere",
            Self::Disabled => "disabled",
            Self::LastAdmin => "last_admin",
            Self::NoUsername => "no_username",
            Self::ServiceAccount => "service_account",
            Self::Store(_) => "store_unavailable",
        }
    }
}

/// For the JSON endpoints of single sign-on (linking, identities): what each
/// failure is as an API error.
impl From<OidcError> for crate::error::ApiError {
    fn from(error: OidcError) -> Self {
        use crate::error::ApiError;
        match error {
            OidcError::UnknownProvider => ApiError::not_found("Unknown sign-in provider"),
            OidcError::Unreachable(why) => {
                tracing::warn!(%why, "an OpenID provider could not be used");
                ApiError::unavailable("provider_unreachable", "The provider could not be reached; try again later")
            }
            OidcError::Store(e) => e.into(),
            OidcError::ServiceAccount => ApiError::forbidden("service_account", OidcError::ServiceAccount.to_string()),
            other => ApiError::bad_request("sso_failed", other.to_string()),
        }
    }
}

impl From<store::UnlinkError> for crate::error::ApiError {
    fn from(error: store::UnlinkError) -> Self {
        use crate::error::ApiError;
        match error {
            store::UnlinkError::NotFound => ApiError::not_found("No such identity is linked to this user"),
            store::UnlinkError::LastWay => ApiError::conflict(
                "last_login_method",
                "This identity is the account's last way to log in; set a password or link another identity first",
            ),
            store::UnlinkError::Store(e) => e.into(),
        }
    }
}
