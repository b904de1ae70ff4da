//! TOTP secrets at rest: the service must read them back to check codes, so
//! they are encrypted (AES-256-GCM), not hashed. The key is the SHA-256 of
//! `MFA_ENCRYPTION_KEY` (with a fixed label, so the same value used for
//! something else gives another key); every secret has a random 96-bit nonce
//! and names its user as associated data, so a sealed secret copied onto
//! another user's item does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::ApiError;

const NONCE_LEN: usize = 12;
const KEY_LABEL: &[u8] = b"kohakuriver mfa totp secret v1\0";

/// The cipher of TOTP secrets.
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// The cipher of this deployment; 503 while `MFA_ENCRYPTION_KEY` is unset.
    pub fn from_config(config: &Config) -> Result<Self, ApiError> {
        let Some(secret) = &config.mfa_encryption_key else {
            return Err(ApiError::unavailable("mfa_not_configured", "TOTP is not configured: set MFA_ENCRYPTION_KEY"));
        };
        Ok(Self::new(secret.expose_secret().as_bytes()))
    }

    fn new(material: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(KEY_LABEL);
        hasher.update(material);
        let key = hasher.finalize();
        Self(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)))
    }

    /// `nonce ‖ ciphertext` of `secret`, bound to `user_id`.
    pub fn seal(&self, user_id: u64, secret: &[u8]) -> Result<Vec<u8>, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated(user_id);
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: &aad })
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("could not encrypt a TOTP secret")))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    /// The secret [`Cipher::seal`] sealed for `user_id`. A 503 when it does
    /// not open: `MFA_ENCRYPTION_KEY` is not the key it was sealed with (or
    /// the item was altered), and the user's codes cannot be checked until
    /// that key is back.
    pub fn open(&self, user_id: u64, sealed: &[u8]) -> Result<Vec<u8>, ApiError> {
        let refused = || {
            tracing::error!(user_id, "a stored TOTP secret does not open with MFA_ENCRYPTION_KEY");
            ApiError::unavailable(
                "mfa_key_mismatch",
                "The stored TOTP secret does not open with this MFA_ENCRYPTION_KEY (was the key changed?)",
            )
        };
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN).ok_or_else(refused)?;
        let aad = associated(user_id);
        self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: &aad }).map_err(|_| refused())
    }
}

fn associated(user_id: u64) -> Vec<u8> {
    format!("user:{user_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_user() {
        let cipher = Cipher::new(b"0123456789abcdef0123456789abcdef");
        let secret = b"12345678901234567890";
        let sealed = cipher.seal(7, secret).expect("seal");
        assert_eq!(cipher.open(7, &sealed).expect("open"), secret);
        assert!(!sealed.windows(secret.len()).any(|w| w == secret), "no plaintext inside");
        assert_ne!(cipher.seal(7, secret).expect("seal"), sealed, "a fresh nonce each time");
        assert!(cipher.open(8, &sealed).is_err(), "bound to its user");
        assert!(Cipher::new(b"another key, 32 bytes or longer!!").open(7, &sealed).is_err());
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert!(cipher.open(7, &altered).is_err(), "authenticated");
        assert!(cipher.open(7, &sealed[..5]).is_err());
    }
}
