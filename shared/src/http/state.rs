//! Application state: configuration and store clients, built once per process.

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::password::Hasher;
use crate::auth::session_token::SessionKeys;
use crate::config::Config;
use crate::db::StoreError;
use crate::db::Stores;
use crate::db::dynamo::Endpoint;
use crate::mfa::passkey::rp::RelyingParty;
use crate::oidc::Registry;
use crate::tasks::dispatch::Dispatcher;

/// What every handler gets; cloning is a reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<App>);

/// The contents of [`AppState`].
pub struct App {
    pub config: Config,
    pub stores: Stores,
    pub keys: Keys,
}

/// Keys and hashers derived from the configuration once.
#[derive(Debug, Clone)]
pub struct Keys {
    pub passwords: Hasher,
    pub sessions: SessionKeys,
    /// The task announcer, when `DISPATCH_WEBHOOK_URL` is set.
    pub dispatcher: Option<Dispatcher>,
    /// The passkeys' relying party, when one is configured (see `mfa::passkey::rp`).
    pub passkeys: Option<RelyingParty>,
    /// The single sign-on providers and their HTTP client.
    pub oidc: Registry,
}

impl AppState {
    /// Builds the clients. Nothing is contacted yet: a store that is down at
    /// start makes requests answer 503 until it is back, not the process fail.
    pub async fn connect(config: Config, endpoint: &Endpoint) -> Result<Self, StoreError> {
        let stores = Stores::connect(&config.stores, endpoint).await?;
        Self::new(config, stores)
    }

    pub fn new(config: Config, stores: Stores) -> Result<Self, StoreError> {
        let passwords = Hasher::new(config.password_hashing)
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("password hashing parameters: {e}")))?;
        let sessions = SessionKeys::from_config(&config);
        let dispatcher = match (&config.dispatch_webhook_url, &config.dispatch_webhook_secret) {
            (Some(url), Some(secret)) => Some(Dispatcher::new(url, secret.clone(), config.dispatch_timeout)?),
            _ => None,
        };
        let passkeys = match &config.webauthn {
            Some(settings) => Some(RelyingParty::new(settings).map_err(|e| {
                StoreError::Internal(anyhow::anyhow!("the passkeys' relying party ({settings:?}): {e}"))
            })?),
            None => None,
        };
        let oidc = Registry::new(config.oidc_providers.clone())?;
        Ok(Self(Arc::new(App { config, stores, keys: Keys { passwords, sessions, dispatcher, passkeys, oidc } })))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
