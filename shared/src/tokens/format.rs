//! What a token looks like: `krv_`, 43 base64url characters (32 random
//! bytes) and 6 base62 characters of the CRC-32 of everything before them, so
//! a made-up or mistyped token is refused by [`is_well_formed`] before any
//! store is asked. Tokens issued before the checksum (`krv_` and the 43
//! characters alone) still authenticate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{base62, crc32, random_token};

/// What every token starts with, so secret scanners can recognise leaked ones.
pub const PREFIX: &str = "krv_";

/// The random part's length: 32 bytes in base64url.
const BODY_LEN: usize = 43;

/// The checksum's length: a CRC-32 in base62.
const CHECKSUM_LEN: usize = 6;

/// A new token's secret: prefix, 32 random bytes, checksum.
pub(crate) fn new_secret() -> String {
    let body = format!("{PREFIX}{}", random_token(32));
    let sum = base62(u64::from(crc32(body.as_bytes())), CHECKSUM_LEN);
    format!("{body}{sum}")
}

/// Whether `token` could be a token this service issued: the current shape
/// with a matching checksum, or the legacy shape (the canonical base64url of
/// exactly 32 bytes, without checksum). Anything else is refused before any
/// store is asked.
pub fn is_well_formed(token: &str) -> bool {
    // ASCII only, so the byte offsets below fall on character boundaries.
    let Some(rest) = token.strip_prefix(PREFIX).filter(|_| token.is_ascii()) else {
        return false;
    };
    let body_ok = |body: &str| URL_SAFE_NO_PAD.decode(body).is_ok_and(|bytes| bytes.len() == 32);
    match rest.len() {
        BODY_LEN => body_ok(rest),
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
    fn new_tokens_carry_a_checksum_that_is_checked() {
        let token = new_secret();
        assert_eq!(token.len(), PREFIX.len() + BODY_LEN + CHECKSUM_LEN);
        assert!(is_well_formed(&token), "{token}");
        // Any changed character of body or checksum is caught.
        for i in PREFIX.len()..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert!(!is_well_formed(&changed), "{changed}");
        }
        assert_ne!(new_secret(), token);
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
