//! Who is calling, once credentials are resolved (see `resolve.rs`): the
//! identity, how it authenticated, and the role the request acts with.

use crate::audit::actor::Actor;
use crate::config::Config;
use crate::error::ApiError;
use crate::identity::user_cache::CachedUser;
use crate::mfa::policy;
use crate::tokens::{Grant, Resources, Scope};
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
    /// `grant`: the token's scopes and resources (see `tokens::scope`).
    ApiToken {
        id: u64,
        grant: Grant,
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

    /// What this caller's credentials grant: a token's scopes and resources;
    /// `None` for every other way in (all the identity's rights).
    pub fn grant(&self) -> Option<&Grant> {
        match &self.via {
            Via::ApiToken { grant, .. } => Some(grant),
            _ => None,
        }
    }

    /// The objects this caller is limited to, if a token limits them.
    pub fn resources(&self) -> Option<&Resources> {
        self.grant().map(|g| &g.resources).filter(|r| r.is_limited())
    }

    /// Whether the caller may act on task (or VPS) `id`, by its token's
    /// resources (the role and ownership checks are the handler's).
    pub fn may_touch_task(&self, id: u64, is_vps: bool) -> bool {
        self.resources().is_none_or(|r| r.allow_task(id, is_vps))
    }

    /// 403 `token_resource_limited` unless the caller's token (if any) may
    /// act on task `id` (a VPS when `is_vps`): checked once before the task
    /// is read (its id may be named either way) and again once its kind is known.
    pub fn within_resources(&self, id: u64, is_vps: bool) -> Result<(), ApiError> {
        if self.may_touch_task(id, is_vps) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "token_resource_limited",
                format!("This API token may not act on task or VPS {id}"),
            ))
        }
    }

    /// 403 `insufficient_scope` unless the caller's token (if any) holds
    /// `scope`: for a handler whose need depends on the request (the route
    /// declares the least one).
    pub fn needs(&self, scope: Scope) -> Result<(), ApiError> {
        match self.grant() {
            Some(grant) if !grant.scopes.allow(scope) => Err(insufficient_scope(scope)),
            _ => Ok(()),
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
                kind: crate::users::UserKind::Human,
            }),
            Identity::Anonymous => None,
        }
    }
}

/// A token without the scope a request needs.
pub fn insufficient_scope(scope: Scope) -> ApiError {
    ApiError::forbidden(
        "insufficient_scope",
        format!("This API token lacks the scope {scope}, which this request needs"),
    )
}
