//! The enrolment policy, `MFA_REQUIRED_ROLE`: a user at or above that role
//! who has no second factor gets, through a session, only `GET /api/auth/me`,
//! the `/api/auth/mfa*` endpoints and logout; every other request answers 403
//! `mfa_enrollment_required` until they enrol (the auth extractors apply it,
//! see `auth::extract`). API tokens and the admin secret are not restricted:
//! a token is a possession factor already, and the admin secret is the
//! break-glass key.

use crate::config::Config;
use crate::types::Role;

/// The least role that must have a second factor, if any.
pub fn required_role(config: &Config) -> Option<Role> {
    config.mfa_required_role.as_deref().and_then(|name| name.parse().ok())
}

/// Whether a user holding `role`, with or without a factor, must enrol one
/// before anything else.
pub fn enrollment_due(config: &Config, role: Role, has_factor: bool) -> bool {
    !has_factor && required_role(config).is_some_and(|required| role.at_least(required))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::STORED_ROLE_NAMES;
    use crate::env::Env;

    fn config(required: Option<&str>) -> Config {
        let mut env = vec![("SESSION_SIGNING_KEY", "0123456789abcdef0123456789abcdef")];
        if let Some(role) = required {
            env.push(("MFA_REQUIRED_ROLE", role));
        }
        Config::from(&Env::from_map(env)).expect("valid")
    }

    #[test]
    fn the_configurable_names_are_exactly_the_stored_roles() {
        let stored: Vec<&str> = Role::ALL.into_iter().filter(|r| *r != Role::Anony).map(Role::as_str).collect();
        assert_eq!(stored, STORED_ROLE_NAMES);
        for name in STORED_ROLE_NAMES {
            assert_eq!(required_role(&config(Some(name))).map(Role::as_str), Some(name));
        }
    }

    #[test]
    fn only_roles_at_or_above_the_required_one_without_a_factor_must_enrol() {
        let operator = config(Some("operator"));
        assert!(enrollment_due(&operator, Role::Operator, false));
        assert!(enrollment_due(&operator, Role::Admin, false));
        assert!(!enrollment_due(&operator, Role::User, false), "below the required role");
        assert!(!enrollment_due(&operator, Role::Admin, true), "has a factor");
        assert!(!enrollment_due(&config(None), Role::Admin, false), "optional when unset");
    }
}
