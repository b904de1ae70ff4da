//! TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of drift
//! either way. A code is accepted for the time step it matches, and only if
//! that step is newer than the last one accepted for the user (the store's
//! conditional write decides, see `store::accept_step`), so a code is never
//! good twice.

use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::ApiError;

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds of a time step.
pub const STEP_SECS: u64 = 30;
/// Steps of clock drift tolerated either way.
pub const SKEW: u64 = 1;
/// The issuer authenticator apps show beside the account.
pub const ISSUER: &str = "KohakuRiver";
/// Bytes of a new secret: 160 bits, RFC 4226's recommendation for HMAC-SHA-1.
const SECRET_BYTES: usize = 20;

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// The secret as authenticator apps take it typed in: base32, no padding.
pub fn base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// A base32 secret (as [`base32`] writes it, or typed with spaces and in
/// lowercase) back to its bytes; `None` if it is not base32.
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    Secret::Encoded(cleaned).to_bytes().ok()
}

fn totp(secret: &[u8], account: &str) -> Result<TOTP, ApiError> {
    let step_skew = u8::try_from(SKEW).unwrap_or(1);
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        step_skew,
        STEP_SECS,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("building a TOTP: {e}")))
}

/// The `otpauth://totp/…` URI of the secret for `account` (a username, which
/// has no `:`), as QR codes carry it.
pub fn otpauth_uri(secret: &[u8], account: &str) -> Result<String, ApiError> {
    Ok(totp(secret, account)?.get_url())
}

/// `uri` as an SVG QR code.
pub fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("drawing a QR code: {e}")))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The time step of a Unix time.
pub fn step_of(unix_secs: u64) -> u64 {
    unix_secs / STEP_SECS
}

/// The code of `secret` for time step `step`.
pub fn code_for_step(secret: &[u8], step: u64) -> Result<String, ApiError> {
    Ok(totp(secret, "code")?.generate(step * STEP_SECS))
}

/// The code of `secret` at a Unix time (what an authenticator app shows then).
pub fn code_at(secret: &[u8], unix_secs: u64) -> Result<String, ApiError> {
    code_for_step(secret, step_of(unix_secs))
}

/// The newest time step within the drift window around `unix_secs` whose code
/// is `code`, compared in constant time; `None` when the code is wrong.
pub fn matching_step(secret: &[u8], code: &Code, unix_secs: u64) -> Result<Option<u64>, ApiError> {
    let now = step_of(unix_secs);
    let mut found = None;
    for step in now.saturating_sub(SKEW)..=now + SKEW {
        let expected = code_for_step(secret, step)?;
        if bool::from(expected.as_bytes().ct_eq(code.0.as_bytes())) {
            found = Some(step);
        }
    }
    Ok(found)
}

/// A well-formed code: six digits (spaces, as apps group them, are dropped).
pub struct Code(String);

impl Code {
    /// A 422 on `field` unless `raw` is six digits.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid(field, format!("must be the {DIGITS}-digit code of your authenticator app")));
        }
        Ok(Self(digits))
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key, with its 8-digit answers cut to 6.
    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(RFC_KEY, time).expect("code"), eight_digits[2..], "time {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_the_neighbouring_ones_only() {
        let now = 1_700_000_000;
        let step = step_of(now);
        for offset in [-1i64, 0, 1] {
            let at = now.checked_add_signed(offset * 30).expect("time");
            let code = Code::parse("code", &code_at(RFC_KEY, at).expect("code")).expect("six digits");
            assert_eq!(matching_step(RFC_KEY, &code, now).expect("check"), Some(step_of(at)));
        }
        let old = Code::parse("code", &code_at(RFC_KEY, now - 60).expect("code")).expect("six digits");
        assert_eq!(matching_step(RFC_KEY, &old, now).expect("check"), None, "two steps back is too old");
        assert_ne!(step, 0);
    }

    #[test]
    fn codes_must_be_six_digits() {
        assert!(Code::parse("code", "123 456").is_ok());
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert!(Code::parse("code", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_uri_and_qr_code_carry_the_secret() {
        let secret = new_secret();
        assert_eq!(secret.len(), 20);
        let uri = otpauth_uri(&secret, "alice").expect("uri");
        assert!(uri.starts_with("otpauth://totp/KohakuRiver:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", base32(&secret))));
        assert_eq!(secret_from_base32(&base32(&secret).to_lowercase()), Some(secret.clone()));
        assert_eq!(secret_from_base32("not base32!"), None);
        let svg = qr_svg(&uri).expect("svg");
        assert!(svg.contains("<svg"));
    }
}
