//! What a token looks like: `krv_`, the owner's user id and `_`, 43
//! base64url characters (32 random bytes) and 6 base62 characters of the
//! CRC-32 of everything before them, so a made-up or mistyped token is
//! refused by [`is_well_formed`] before any store is asked.
//!
//! The owner's id is in the token so that its cache entry can live in the
//! owner's Redis slot (see `cache.rs`): one script reads the token and the
//! owner's state together, on a single node and on a Redis Cluster. The id
//! only routes the lookup; the token is still found by its SHA-256, and a
//! token whose stored owner differs from the one it names is refused. Tokens
//! issued before the id was added (`krv_` + 43 + 6, and the legacy `krv_` +
//! 43 without checksum) still authenticate, at one more round trip.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{base62, crc32, random_token};

/// What every token starts with, so secret scanners can recognise leaked ones.
pub const PREFIX: &str = "krv_";

/// The random part's length: 32 bytes in base64url.
const BODY_LEN: usize = 43;

/// The checksum's length: a CRC-32 in base62.
const CHECKSUM_LEN: usize = 6;

/// A new token's secret for user `owner`: prefix, owner, 32 random bytes, checksum.
pub fn new_secret(owner: u64) -> String {
    let body = format!("{PREFIX}{owner}_{}", random_token(32));
    let sum = base62(u64::from(crc32(body.as_bytes())), CHECKSUM_LEN);
    format!("{body}{sum}")
}

/// What a token shows in lists: everything up to and including the first
/// four random characters (`krv_42_abcd`).
pub fn display_prefix(token: &str) -> String {
    let owner_part = owner_part_len(token).unwrap_or(0);
    token.chars().take(PREFIX.len() + owner_part + 4).collect()
}

/// The length of `<id>_` in a token that names its owner.
fn owner_part_len(token: &str) -> Option<usize> {
    let rest = token.strip_prefix(PREFIX)?;
    let len = rest.len().checked_sub(BODY_LEN + CHECKSUM_LEN).filter(|n| *n >= 2)?;
    let part = rest.get(..len)?;
    let digits = part.strip_suffix('_')?;
    (digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(len)
}

/// The user id a token names (tokens issued before ids were added name none).
/// Only meaningful for a well-formed token.
pub fn owner_of(token: &str) -> Option<u64> {
    let len = owner_part_len(token)?;
    token.get(PREFIX.len()..PREFIX.len() + len - 1)?.parse().ok()
}

/// Whether `token` could be a token this service issued: the current shape
/// (with its owner) or the one before it (without), each with a matching
/// checksum, or the legacy shape (the canonical base64url of exactly 32
/// bytes, without checksum). Anything else is refused before any store is asked.
pub fn is_well_formed(token: &str) -> bool {
    // ASCII only, so the byte offsets below fall on character boundaries.
    let Some(rest) = token.strip_prefix(PREFIX).filter(|_| token.is_ascii()) else {
        return false;
    };
    let body_ok = |body: &str| URL_SAFE_NO_PAD.decode(body).is_ok_and(|bytes| bytes.len() == 32);
    let owner = if rest.len() > BODY_LEN + CHECKSUM_LEN {
        match owner_part_len(token) {
            Some(len) if owner_of(token).is_some() => len,
            _ => return false,
        }
    } else {
        0
    };
    let rest = &rest[owner..];
    match rest.len() {
        BODY_LEN => owner == 0 && body_ok(rest),
        n if n == BODY_LEN + CHECKSUM_LEN => {
            let (body, sum) = token.split_at(token.len() - CHECKSUM_LEN);
            body_ok(&rest[..BODY_LEN]) && sum == base62(u64::from(crc32(body.as_bytes())), CHECKSUM_LEN)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_tokens_carry_their_owner_and_a_checksum_that_is_checked() {
        let token = new_secret(4207);
        assert_eq!(token.len(), PREFIX.len() + "4207_".len() + BODY_LEN + CHECKSUM_LEN);
        assert_eq!(owner_of(&token), Some(4207));
        assert!(display_prefix(&token).starts_with("krv_4207_"));
        assert_eq!(display_prefix(&token).len(), "krv_4207_".len() + 4);
        assert!(is_well_formed(&token), "{token}");
        // Any changed character of body or checksum is caught.
        for i in PREFIX.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(!is_well_formed(&changed), "{changed}");
        }
        assert_ne!(new_secret(4207), token);
    }

    #[test]
    fn tokens_from_before_the_owner_still_pass_and_name_nobody() {
        let body = format!("{PREFIX}{}", random_token(32));
        let token = format!("{body}{}", base62(u64::from(crc32(body.as_bytes())), CHECKSUM_LEN));
        assert!(is_well_formed(&token), "{token}");
        assert_eq!(owner_of(&token), None);
        // An owner spliced into an older token breaks its checksum.
        let spliced = token.replacen(PREFIX, "krv_7_", 1);
        assert!(!is_well_formed(&spliced), "{spliced}");
        for bad_owner in ["krv_x_", "krv__", "krv_-1_", "krv_123456789012345678901_", "krv_99999999999999999999_"] {
            let body = format!("{bad_owner}{}", random_token(32));
            let forged = format!("{body}{}", base62(u64::from(crc32(body.as_bytes())), CHECKSUM_LEN));
            assert!(!is_well_formed(&forged), "{forged}");
        }
    }

    #[test]
    fn legacy_tokens_keep_their_shape_and_nothing_else_passes() {
        let legacy = format!("{PREFIX}{}", random_token(32));
        assert!(is_well_formed(&legacy), "{legacy}");
        for bad in [
            "krv_not-a-real-token",
            "",
            "krv_",
            "krv_\u{e9}",
            &format!("{PREFIX}{}\u{e9}\u{e9}\u{e9}", "A".repeat(43)),
            &legacy[..legacy.len() - 1],
            &format!("{legacy}x"),
            &legacy.replacen("krv_", "KRV_", 1),
            &format!("{}!", &legacy[..legacy.len() - 1]),
            // 43 base64url characters that are not the canonical encoding of 32 bytes.
            &format!("{PREFIX}{}B", "A".repeat(42)),
        ] {
            assert!(!is_well_formed(bad), "{bad}");
        }
    }
}
