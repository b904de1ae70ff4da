//! Who is calling, once credentials are resolved (see `resolve.rs`): the
//! identity, how it authenticated, and the role the request acts with.

use crate::audit::actor::Actor;
use crate::config::Config;
use crate::identity::user_cache::CachedUser;
use crate::mfa::policy;
use crate::types::Role;
use crate::users::UserView;

/// Who the caller is.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The built-in system admin: the admin secret, or any caller with auth off.
    System,
    User(CachedUser),
    Anonymous,
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    AuthDisabled,
    AdminSecret,
    /// `provider_mfa`: a single sign-on login whose provider vouched for a
    /// second factor (counts as one for `MFA_REQUIRED_ROLE`).
    Session {
        hash: String,
        expires_at_ms: i64,
        provider_mfa: bool,
    },
    ApiToken {
        id: u64,
    },
    None,
}

impl Via {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AuthDisabled => "auth_disabled",
            Self::AdminSecret => "admin_secret",
            Self::Session { .. } => "session",
            Self::ApiToken { .. } => "api_token",
            Self::None => "none",
        }
    }
}

/// A resolved caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub via: Via,
    /// The least role this request acts with: what its handler required
    /// ([`Require`]), else any active user. Writes re-check it when they
    /// commit (see `store::actor`).
    pub acting: Role,
}

/// The pseudo users' names in audit events and `/me`.
pub use crate::audit::{ANONYMOUS_USERNAME, SYSTEM_USERNAME};

impl Caller {
    pub fn anonymous() -> Self {
        Self { identity: Identity::Anonymous, via: Via::None, acting: Role::Viewer }
    }

    pub fn role(&self) -> Role {
        match &self.identity {
            Identity::System => Role::Admin,
            Identity::User(u) => u.role,
            Identity::Anonymous => Role::Anony,
        }
    }

    pub fn user(&self) -> Option<&CachedUser> {
        match &self.identity {
            Identity::User(u) => Some(u),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<u64> {
        self.user().map(|u| u.id)
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self.identity, Identity::Anonymous)
    }

    /// Whether this caller must enrol a second factor before anything else
    /// (see `mfa::policy`): a session of a user at or above
    /// `MFA_REQUIRED_ROLE` who has none. API tokens and the admin secret are
    /// never restricted.
    pub fn must_enrol(&self, config: &Config) -> bool {
        match (&self.via, &self.identity) {
            (Via::Session { provider_mfa, .. }, Identity::User(user)) => {
                policy::enrollment_due(config, user.role, user.mfa || *provider_mfa)
            }
            _ => false,
        }
    }

    /// The session this request authenticated with, if any.
    pub fn session_hash(&self) -> Option<&str> {
        match &self.via {
            Via::Session { hash, .. } => Some(hash),
            _ => None,
        }
    }

    /// The actor of audit events: a user must still hold [`Caller::acting`]
    /// when the event's write commits.
    pub fn actor(&self) -> Actor {
        match &self.identity {
            Identity::System => (SYSTEM_USERNAME.to_owned(), None).into(),
            Identity::User(u) => Actor { name: u.username.clone(), id: Some(u.id), must_hold: Some(self.acting) },
            Identity::Anonymous => (ANONYMOUS_USERNAME.to_owned(), None).into(),
        }
    }

    /// The caller as the API's user object (`_system` for the pseudo user).
    pub fn view(&self) -> Option<UserView> {
        match &self.identity {
            Identity::User(u) => Some(u.view()),
            Identity::System => Some(UserView {
                id: 0,
                username: SYSTEM_USERNAME.to_owned(),
                display_name: "System".to_owned(),
                role: Role::Admin,
                is_active: true,
                created_at: None,
                last_login_at: None,
            }),
            Identity::Anonymous => None,
        }
    }
}
