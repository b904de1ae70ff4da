//! Recovery codes: ten random single-use codes, shown once when TOTP is
//! confirmed (and when regenerated), stored only as SHA-256 hashes. Each has
//! 80 random bits, so a plain hash is enough (as for API tokens): a slow hash
//! protects guessable secrets, and these are not guessable.

use rand::RngCore;

use crate::crypto::sha256_hex;
use crate::error::ApiError;

/// Codes per set.
pub const COUNT: usize = 10;
/// base32 characters of a code (80 bits).
const CHARS: usize = 16;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new set of codes, as shown to the user: `xxxx-xxxx-xxxx-xxxx`.
pub fn generate() -> Vec<String> {
    (0..COUNT).map(|_| one()).collect()
}

fn one() -> String {
    let mut bytes = [0u8; CHARS * 5 / 8];
    rand::rng().fill_bytes(&mut bytes);
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let chars: Vec<char> = (0..CHARS)
        .map(|i| {
            let shift = (CHARS - 1 - i) * 5;
            char::from(ALPHABET[usize::try_from((bits >> shift) & 31).unwrap_or(0)])
        })
        .collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// A code as typed, reduced to what is hashed: lowercase, without the dashes
/// and spaces; a 422 on `field` unless it has the shape of a recovery code.
pub fn normalize(field: &str, raw: &str) -> Result<String, ApiError> {
    let code: String =
        raw.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_lowercase()).collect();
    if code.len() != CHARS || !code.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(ApiError::invalid(field, "must be one of your recovery codes (xxxx-xxxx-xxxx-xxxx)"));
    }
    Ok(code)
}

/// The stored form of a normalized code.
pub fn hash(normalized: &str) -> String {
    sha256_hex(normalized)
}

/// The stored forms of a new set.
pub fn hashes(codes: &[String]) -> Result<Vec<String>, ApiError> {
    codes.iter().map(|c| normalize("recovery_code", c).map(|n| hash(&n))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_and_normalize_to_their_hash() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            let typed = code.to_uppercase().replace('-', " ");
            assert_eq!(hash(&normalize("c", &typed).expect("valid")), hash(&normalize("c", code).expect("valid")));
        }
        assert_eq!(hashes(&codes).expect("hashes").len(), COUNT);
        assert!(normalize("c", "abcd-efgh").is_err());
        assert!(normalize("c", "abcd-efgh-ijkl-mno1").is_err(), "1 is not base32");
    }
}
