//! Users as the API shows them, and username rules.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

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
    parse_label("display_name", name, 100)
}

/// A short human-chosen name (of a token, a group, a person): Unicode in NFC
/// (so "é" typed either way is one name), trimmed, 1 to `max` characters, and
/// nothing invisible that could make two names look alike or reorder how a
/// name reads; a 422 on `field` otherwise.
pub fn parse_label(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let name: String = raw.trim().nfc().collect();
    if name.is_empty() || name.chars().count() > max {
        return Err(ApiError::invalid(field, format!("must be 1 to {max} characters long")));
    }
    if name.chars().any(|c| c.is_control() || is_invisible_format(c)) {
        return Err(ApiError::invalid(field, "must not contain control, invisible or text-direction characters"));
    }
    Ok(name)
}

/// The key under which a name must be unique: NFC, then case folded (and
/// NFC again, as lowercasing can decompose).
pub fn name_key(name: &str) -> String {
    name.nfc().collect::<String>().to_lowercase().nfc().collect()
}

/// Bidirectional controls ("Trojan Source"), zero-width space, word joiners and
/// the byte-order mark. Zero-width (non-)joiners stay allowed: scripts and
/// emoji sequences need them.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
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

    #[test]
    fn names_are_nfc_and_keys_fold_case_and_form() {
        assert_eq!(parse_label("name", " Cafe\u{301} ", 10).expect("ok"), "Caf\u{e9}");
        assert_eq!(name_key("CAF\u{c9}"), name_key("cafe\u{301}"));
        assert_ne!(name_key("cafe"), name_key("caf\u{e9}"));
        assert!(parse_label("name", "\u{202e}txt", 10).is_err());
        assert!(parse_label("name", "👩\u{200d}💻", 10).is_ok(), "emoji sequences keep their joiners");
    }
}
