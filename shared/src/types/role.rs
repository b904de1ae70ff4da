//! The role hierarchy. Every role check goes through [`Role`]'s ordering, never
//! through string comparison.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Lowest to highest; each role has every permission of the roles below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An unauthenticated caller; never a stored user's role.
    Anony,
    Viewer,
    User,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Anony, Role::Viewer, Role::User, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anony => "anony",
            Self::Viewer => "viewer",
            Self::User => "user",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// The numeric level (0 for `anony` to 4 for `admin`).
    pub fn level(self) -> u8 {
        self as u8
    }

    /// Whether this role includes every permission of `required`.
    pub fn at_least(self, required: Role) -> bool {
        self >= required
    }

    /// Parses a role a user may hold: unknown strings and `anony` are a 422 on `field`.
    pub fn parse_assignable(field: &str, value: &str) -> Result<Role, ApiError> {
        match value.parse::<Role>() {
            Ok(Role::Anony) => {
                Err(ApiError::invalid(field, "anony is the role of unauthenticated callers, not of a user"))
            }
            Ok(role) => Ok(role),
            Err(_) => Err(ApiError::invalid(
                field,
                format!("unknown role {value:?}; expected viewer, user, operator or admin"),
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hierarchy_is_ordered() {
        assert!(Role::Admin.at_least(Role::Operator));
        assert!(Role::Operator.at_least(Role::Operator));
        assert!(!Role::User.at_least(Role::Operator));
        assert!(!Role::Anony.at_least(Role::Viewer));
        let levels: Vec<u8> = Role::ALL.iter().map(|r| r.level()).collect();
        assert_eq!(levels, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn unknown_roles_and_anony_are_not_assignable() {
        assert_eq!(Role::parse_assignable("role", "operator").expect("valid"), Role::Operator);
        assert_eq!(Role::parse_assignable("role", "root").expect_err("unknown").status(), 422);
        assert_eq!(Role::parse_assignable("role", "anony").expect_err("anony").status(), 422);
        assert!(Role::parse_assignable("role", "Admin").is_err(), "roles are lowercase");
    }
}
