//! Users as the API shows them, and username rules.

use serde::Serialize;

use super::{Role, Timestamp};
use crate::error::ApiError;

/// A valid username: 3–50 characters of `[A-Za-z0-9_.-]`. Uniqueness is
/// case-insensitive, so the store keys on [`Username::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let len = raw.chars().count();
        if !(3..=50).contains(&len) {
            return Err(ApiError::invalid("username", "must be 3 to 50 characters long"));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return Err(ApiError::invalid("username", "may contain only letters, digits, '_', '.' and '-'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that must be unique.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A display name: at most 100 characters, no control characters; empty means
/// "use the username".
pub fn parse_display_name(raw: Option<&str>, username: &Username) -> Result<String, ApiError> {
    let name = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(username.as_str());
    if name.chars().count() > 100 {
        return Err(ApiError::invalid("display_name", "must be at most 100 characters long"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid("display_name", "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// A short human-chosen name (of a token, a group): trimmed, 1 to `max`
/// characters, no control characters; a 422 on `field` otherwise.
pub fn parse_label(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > max {
        return Err(ApiError::invalid(field, format!("must be 1 to {max} characters long")));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// The user object of the API (the original's fields plus `last_login_at`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserView {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("a.b-c_9").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(51)).is_err());
        assert!(Username::parse("al ice").is_err());
        assert!(Username::parse("alïce").is_err());
        assert_eq!(Username::parse("Alice").expect("valid").key(), "alice");
    }

    #[test]
    fn display_names_default_to_the_username() {
        let user = Username::parse("alice").expect("valid");
        assert_eq!(parse_display_name(None, &user).expect("ok"), "alice");
        assert_eq!(parse_display_name(Some("  "), &user).expect("ok"), "alice");
        assert_eq!(parse_display_name(Some("Alice A."), &user).expect("ok"), "Alice A.");
        assert!(parse_display_name(Some("a\u{0}b"), &user).is_err());
    }
}
