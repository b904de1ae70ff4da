//! What an API token may do: its scopes (which kinds of action) and its
//! resources (which objects), both narrowing its owner's rights, never
//! widening them: a request still needs the role its route requires, checked
//! against the owner's *current* role, and then also the scope its route
//! declares (see `http::routes`) and, where the route acts on named objects,
//! one of the token's resources. The vocabulary is fixed and documented in
//! docs/tokens.md.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::types::Role;

/// One scope of the fixed vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// All the owner's rights (the default; the original CLI's tokens).
    #[serde(rename = "inherit")]
    Inherit,
    /// Every read the owner may make (the GET routes).
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "tasks:submit")]
    TasksSubmit,
    #[serde(rename = "tasks:approve")]
    TasksApprove,
    #[serde(rename = "vps:connect")]
    VpsConnect,
    /// Implies `vps:connect`.
    #[serde(rename = "vps:manage")]
    VpsManage,
    #[serde(rename = "users:admin")]
    UsersAdmin,
    #[serde(rename = "tokens:manage")]
    TokensManage,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Self::Inherit,
        Self::Read,
        Self::TasksSubmit,
        Self::TasksApprove,
        Self::VpsConnect,
        Self::VpsManage,
        Self::UsersAdmin,
        Self::TokensManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inherit => "inherit",
            Self::Read => "read",
            Self::TasksSubmit => "tasks:submit",
            Self::TasksApprove => "tasks:approve",
            Self::VpsConnect => "vps:connect",
            Self::VpsManage => "vps:manage",
            Self::UsersAdmin => "users:admin",
            Self::TokensManage => "tokens:manage",
        }
    }

    /// The least role whose rights include this scope's: an owner below it
    /// cannot be given the scope (it would grant nothing).
    pub fn least_role(self) -> Role {
        match self {
            Self::Inherit | Self::Read | Self::TokensManage => Role::Viewer,
            Self::TasksSubmit | Self::VpsConnect => Role::User,
            Self::TasksApprove | Self::VpsManage => Role::Operator,
            Self::UsersAdmin => Role::Admin,
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or(())
    }
}

/// A token's scopes, as a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes(u16);

impl Default for Scopes {
    fn default() -> Self {
        Self::INHERIT
    }
}

impl Scopes {
    /// All the owner's rights.
    pub const INHERIT: Scopes = Scopes(1 << Scope::Inherit as u16);

    /// Whether a request needing `needed` may go ahead.
    pub fn allow(self, needed: Scope) -> bool {
        let has = |scope: Scope| self.0 & scope.bit() != 0;
        has(Scope::Inherit) || has(needed) || (needed == Scope::VpsConnect && has(Scope::VpsManage))
    }

    /// Whether every right of `other` is also this set's.
    pub fn covers(self, other: Scopes) -> bool {
        other.iter().all(|scope| self.allow(scope))
    }

    pub fn is_inherit(self) -> bool {
        self == Self::INHERIT
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.0 & scope.bit() != 0)
    }

    /// The scopes' names, in the vocabulary's order.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|scope| scope.as_str().to_owned()).collect()
    }

    /// Parses a creation's `scopes`: absent means `inherit`; `inherit` stands
    /// alone; each scope must be one the owner's role can use.
    pub fn parse(raw: Option<&[String]>, owner_role: Role) -> Result<Self, ApiError> {
        let Some(raw) = raw else {
            return Ok(Self::INHERIT);
        };
        if raw.is_empty() {
            return Err(ApiError::invalid("scopes", "give at least one scope, or omit it for \"inherit\""));
        }
        let mut bits = 0;
        for name in raw {
            let scope: Scope = name.parse().map_err(|()| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid("scopes", format!("unknown scope {name:?}; known: {}", known.join(", ")))
            })?;
            if !owner_role.at_least(scope.least_role()) {
                return Err(ApiError::invalid(
                    "scopes",
                    format!("{scope} needs the role {} or above; the owner is {owner_role}", scope.least_role()),
                ));
            }
            bits |= scope.bit();
        }
        if bits & Scope::Inherit.bit() != 0 && bits != Scope::Inherit.bit() {
            return Err(ApiError::invalid("scopes", "\"inherit\" already holds every right; give it alone"));
        }
        Ok(Self(bits))
    }

    /// The stored form (a bit set; see [`Scopes::from_bits`]).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// The stored form back; unknown bits are dropped, and nothing left
    /// means the token's scopes were lost: it may do nothing rather than all.
    pub fn from_bits(bits: u16) -> Self {
        let known = Scope::ALL.iter().fold(0, |acc, s| acc | s.bit());
        Self(bits & known)
    }
}

/// An object a token may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Vps(u64),
    Task(u64),
}

/// The most resources one token may name.
pub const MAX_RESOURCES: usize = 20;

impl Resource {
    pub fn parse(raw: &str) -> Option<Self> {
        let (kind, id) = raw.split_once(':')?;
        // Digits only (no sign, no spaces): `u64::from_str` accepts a leading `+`.
        if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id = id.parse().ok()?;
        match kind {
            "vps" => Some(Self::Vps(id)),
            "task" => Some(Self::Task(id)),
            _ => None,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vps(id) => write!(f, "vps:{id}"),
            Self::Task(id) => write!(f, "task:{id}"),
        }
    }
}

/// The objects a token may act on: every one (no limit), or those named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources(Vec<Resource>);

impl Resources {
    /// Parses a creation's `resources` (absent or empty: no limit).
    pub fn parse(raw: Option<&[String]>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or_default();
        if raw.len() > MAX_RESOURCES {
            return Err(ApiError::invalid("resources", format!("at most {MAX_RESOURCES} resources")));
        }
        let mut list = raw
            .iter()
            .map(|r| {
                Resource::parse(r)
                    .ok_or_else(|| ApiError::invalid("resources", format!("{r:?} is not vps:<id> or task:<id>")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_unstable();
        list.dedup();
        Ok(Self(list))
    }

    /// From stored names (a name that no longer parses limits to nothing
    /// rather than lifting the limit).
    pub fn from_names(names: &[String]) -> Self {
        let mut list: Vec<Resource> = names.iter().filter_map(|r| Resource::parse(r)).collect();
        if list.is_empty() && !names.is_empty() {
            list.push(Resource::Task(u64::MAX));
        }
        Self(list)
    }

    pub fn is_limited(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether the token may act on `object`.
    pub fn allow(&self, object: Resource) -> bool {
        !self.is_limited() || self.0.contains(&object)
    }

    /// Whether a task (or the VPS it stands for) is within the limits: a VPS
    /// is named as `vps:<id>` or `task:<id>`, since a VPS is a task.
    pub fn allow_task(&self, task_id: u64, is_vps: bool) -> bool {
        self.allow(Resource::Task(task_id)) || (is_vps && self.allow(Resource::Vps(task_id)))
    }

    /// Whether every object `other` may touch, this may too.
    pub fn covers(&self, other: &Resources) -> bool {
        !self.is_limited() || (other.is_limited() && other.0.iter().all(|r| self.0.contains(r)))
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// What a route asks of an API token, declared with the route (see
/// `http::routes::Routes::route`) and checked when the caller is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// `None`: no scope (public routes and logging in or out).
    pub scope: Option<Scope>,
    /// Whether the handler checks or filters by the token's resources; a
    /// resource-limited token is refused by every other route.
    pub resources: bool,
}

impl Needs {
    /// No scope and no resource check: routes that act on no one's data
    /// (health, logging in and out, the public status).
    pub const NOTHING: Needs = Needs { scope: None, resources: true };
}

impl From<Scope> for Needs {
    fn from(scope: Scope) -> Self {
        Needs { scope: Some(scope), resources: false }
    }
}

impl Scope {
    /// This scope, on a route whose handler honours resource limits.
    pub const fn on_resources(self) -> Needs {
        Needs { scope: Some(self), resources: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scopes_parse_within_the_owners_role_and_inherit_stands_alone() {
        assert!(Scopes::parse(None, Role::Viewer).expect("default").is_inherit());
        let set = Scopes::parse(Some(&names(&["read", "tasks:submit"])), Role::User).expect("user scopes");
        assert!(set.allow(Scope::Read) && set.allow(Scope::TasksSubmit));
        assert!(!set.allow(Scope::TasksApprove) && !set.allow(Scope::Inherit));
        assert_eq!(set.names(), names(&["read", "tasks:submit"]));
        assert_eq!(Scopes::from_bits(set.bits()), set);
        for bad in [&["users:admin"][..], &["inherit", "read"], &["root"], &[]] {
            let err = Scopes::parse(Some(&names(bad)), Role::User).expect_err("refused");
            assert_eq!(err.status(), 422, "{bad:?}");
        }
        assert!(Scopes::parse(Some(&names(&["users:admin"])), Role::Admin).is_ok());
    }

    #[test]
    fn inherit_allows_everything_and_manage_implies_connect() {
        for scope in Scope::ALL {
            assert!(Scopes::INHERIT.allow(scope));
        }
        let manage = Scopes::parse(Some(&names(&["vps:manage"])), Role::Operator).expect("manage");
        assert!(manage.allow(Scope::VpsConnect));
        let connect = Scopes::parse(Some(&names(&["vps:connect"])), Role::Operator).expect("connect");
        assert!(!connect.allow(Scope::VpsManage));
        assert!(manage.covers(connect) && !connect.covers(manage));
        assert!(Scopes::INHERIT.covers(manage) && !manage.covers(Scopes::INHERIT));
        assert_eq!(Scopes::from_bits(0).iter().count(), 0, "lost scopes allow nothing");
        assert!(!Scopes::from_bits(0).allow(Scope::Read));
    }

    #[test]
    fn resources_limit_to_named_objects() {
        let open = Resources::parse(None).expect("none");
        assert!(!open.is_limited() && open.allow(Resource::Vps(1)));
        let limited = Resources::parse(Some(&names(&["vps:123", "task:7", "vps:123"]))).expect("limited");
        assert_eq!(limited.names(), names(&["vps:123", "task:7"]));
        assert!(limited.allow_task(123, true) && !limited.allow_task(123, false));
        assert!(limited.allow_task(7, false) && !limited.allow_task(8, true));
        assert!(open.covers(&limited) && !limited.covers(&open));
        for bad in ["vps:", "vps:+1", "vps:-1", "vm:1", "vps:12345678901234567890", "task:1 "] {
            assert!(Resources::parse(Some(&names(&[bad]))).is_err(), "{bad}");
        }
        let too_many: Vec<String> = (0..21).map(|i| format!("task:{i}")).collect();
        assert!(Resources::parse(Some(&too_many)).is_err());
        assert!(Resources::from_names(&names(&["gone:1"])).is_limited(), "unreadable limits stay limits");
    }
}
