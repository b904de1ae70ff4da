//! Users as the API shows them, and username rules.

use crate::error::ApiError;
use crate::types::Role;
use crate::types::Timestamp;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

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

    /// A username for a new account: [`Username::parse`], and not starting with
    /// `_`, which is kept for the service's own actors in the audit log
    /// (`_system`, `_anonymous`). Existing accounts are looked up with
    /// [`Username::parse`], so one made before this rule can still log in.
    pub fn parse_new(raw: &str) -> Result<Self, ApiError> {
        let name = Self::parse(raw)?;
        if name.0.starts_with('_') {
            return Err(ApiError::invalid(
                "username",
                "must not start with '_': such names are reserved for the service's own actors (_system, _anonymous)",
            ));
        }
        Ok(name)
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
/// name reads (see [`is_invisible`]); a 422 on `field` otherwise.
pub fn parse_label(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let name: String = raw.trim().nfc().collect();
    if name.is_empty() || name.chars().count() > max {
        return Err(ApiError::invalid(field, format!("must be 1 to {max} characters long")));
    }
    if let Some(c) = name.chars().find(|&c| c.is_control() || is_invisible(c)) {
        return Err(ApiError::invalid(
            field,
            format!("must not contain control, invisible or text-direction characters (found U+{:04X})", u32::from(c)),
        ));
    }
    Ok(name)
}

/// The key under which a name must be unique: NFKC (so fullwidth "ＡＢＣ",
/// ligatures and other compatibility forms count as their plain letters), then
/// lowercased, then NFKC again (lowercasing can leave a string unnormalized).
pub fn name_key(name: &str) -> String {
    name.nfkc().collect::<String>().to_lowercase().nfkc().collect()
}

/// Zero-width non-joiner and joiner: invisible, but scripts (Persian, Indic)
/// and emoji sequences (👩‍💻) need them, so they are the one exception.
const JOINERS: [char; 2] = ['\u{200c}', '\u{200d}'];

/// Characters that show nothing or change how a name reads: the general
/// categories Cf (format: bidirectional controls, zero-width space, word
/// joiner, soft hyphen, tag characters, the byte-order mark), Zl and Zp (line
/// and paragraph separators), every Default_Ignorable_Code_Point (Hangul
/// fillers, the combining grapheme joiner, variation selectors including
/// U+FE0F, Mongolian free variation selectors), and the braille blank U+2800,
/// which renders as an empty cell. ZWNJ and ZWJ ([`JOINERS`]) stay allowed.
fn is_invisible(c: char) -> bool {
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup};
    use icu_properties::{CodePointMapData, CodePointSetData};
    if JOINERS.contains(&c) {
        return false;
    }
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    let hidden = GeneralCategoryGroup::Format
        .union(GeneralCategoryGroup::LineSeparator)
        .union(GeneralCategoryGroup::ParagraphSeparator);
    hidden.contains(category) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) || c == '\u{2800}'
}

/// Who an account is for: a person, or an automation (a service account,
/// docs/tokens.md) that holds only the API tokens admins mint for it and
/// can never log in, enrol a second factor or use single sign-on. Records
/// from before service accounts carry no kind and are people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    #[default]
    Human,
    Service,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Service => "service",
        }
    }

    pub fn is_service(self) -> bool {
        self == Self::Service
    }
}

/// The user object of the API (the original's fields plus `last_login_at`
/// and `kind`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserView {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    pub kind: UserKind,
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

    #[test]
    fn new_usernames_may_not_take_the_pseudo_actors_names() {
        for reserved in ["_system", "_anonymous", "_SYSTEM", "_x1", "__"] {
            let refused = Username::parse_new(reserved);
            assert!(refused.is_err(), "{reserved} must be refused");
        }
        assert!(Username::parse_new("a_b").is_ok(), "only a leading '_' is reserved");
        // Lookups still accept them, so an account made before the rule can log in.
        assert!(Username::parse("_system").is_ok());
    }

    #[test]
    fn invisible_characters_are_refused_by_class() {
        let classes: [(&str, &[char]); 9] = [
            (
                "Cf: soft hyphen, zero-width space, bidi, BOM, word joiner",
                &['\u{ad}', '\u{200b}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{2060}', '\u{61c}'],
            ),
            ("Cf: tag characters", &['\u{e0001}', '\u{e0041}', '\u{e007f}']),
            ("Zl and Zp", &['\u{2028}', '\u{2029}']),
            ("Hangul fillers", &['\u{115f}', '\u{1160}', '\u{3164}', '\u{ffa0}']),
            ("combining grapheme joiner", &['\u{34f}']),
            ("variation selectors", &['\u{fe00}', '\u{fe0e}', '\u{fe0f}', '\u{e0100}', '\u{e01ef}']),
            ("Mongolian selectors", &['\u{180b}', '\u{180c}', '\u{180d}', '\u{180e}', '\u{180f}']),
            ("braille blank", &['\u{2800}']),
            ("other default-ignorables", &['\u{17b4}', '\u{1d173}', '\u{fff0}']),
        ];
        for (class, chars) in classes {
            for &c in chars {
                let name = format!("ab{c}cd");
                assert!(parse_label("name", &name, 10).is_err(), "{class}: U+{:04X} must be refused", u32::from(c));
            }
        }
        // The documented exception: ZWNJ and ZWJ.
        assert!(parse_label("name", "می\u{200c}خواهم", 20).is_ok());
        assert!(parse_label("name", "👨\u{200d}👩\u{200d}👧", 10).is_ok());
        // Emoji that need U+FE0F are refused; their text form passes.
        assert!(parse_label("name", "❤\u{fe0f}", 10).is_err());
        assert!(parse_label("name", "❤", 10).is_ok());
        // Visible letters of every script, marks and spaces pass.
        for ok in ["GPU team", "Ünïcødé", "研究室", "ﾊﾝｶｸ", "e\u{301}", "한국", "Ａｌｉｃｅ"] {
            assert!(parse_label("name", ok, 20).is_ok(), "{ok} must pass");
        }
    }

    #[test]
    fn keys_are_nfkc_and_case_folded() {
        assert_eq!(name_key("ＡＢＣ"), name_key("abc"));
        assert_eq!(name_key("\u{fb01}le"), name_key("FILE"), "the fi ligature is f + i");
        assert_eq!(name_key("Ⅻ"), name_key("xii"));
        assert_eq!(name_key("ｶ"), name_key("カ"), "halfwidth katakana");
        assert_eq!(name_key("\u{212b}"), name_key("\u{e5}"), "the angstrom sign is å");
        assert_ne!(name_key("abc"), name_key("abd"));
    }
}
