//! Passwords: argon2id hashing off the async runtime, and the password policy.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::PasswordHashing;
use crate::error::ApiError;
use crate::users::Username;

pub const MIN_CHARS: usize = 8;
pub const MAX_BYTES: usize = 1024;

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../../data/common-passwords.txt").lines().map(str::trim).collect());

/// Checks a new password against the policy: 8 characters to 1024 bytes, not a
/// common password, not containing the username.
pub fn check_policy(field: &str, password: &str, username: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_CHARS {
        return Err(ApiError::invalid(field, format!("must be at least {MIN_CHARS} characters long")));
    }
    if password.len() > MAX_BYTES {
        return Err(ApiError::invalid(field, format!("must be at most {MAX_BYTES} bytes long")));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(ApiError::invalid(field, "is too common; choose a less guessable password"));
    }
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err(ApiError::invalid(field, "must not contain the username"));
    }
    Ok(())
}

/// Same as [`check_policy`] for a parsed username.
pub fn check_new(field: &str, password: &str, username: &Username) -> Result<(), ApiError> {
    check_policy(field, password, username.as_str())
}

/// The configured argon2id hasher.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
    /// Turns to hash: bounded below the core count, so hashing cannot starve
    /// the runtime's threads (other requests would wait for a core).
    slots: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(cfg: PasswordHashing) -> Result<Self, ApiError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("argon2 parameters: {e}")))?;
        let slots = Arc::new(Semaphore::new(usize::try_from(cfg.max_concurrent).unwrap_or(1).max(1)));
        Ok(Self { params, slots })
    }

    /// Runs `work` on a blocking thread once a hashing slot is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let _slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing slots: {e}")))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing task: {e}")))
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes on a blocking thread, so hashing never stalls other requests.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let argon2 = self.argon2();
        let password = password.to_owned();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2.hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing: {e}")))
    }

    /// Verifies on a blocking thread. With no stored hash (unknown user) it does
    /// the same work against a throwaway hash and answers false, so the answer
    /// time does not tell whether the user exists.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, ApiError> {
        let argon2 = self.argon2();
        let password = password.to_owned();
        let stored = stored.map(str::to_owned);
        self.run(move || match stored.as_deref().map(PasswordHash::new) {
            Some(Ok(hash)) => argon2.verify_password(password.as_bytes(), &hash).is_ok(),
            Some(Err(_)) | None => {
                // Equal cost to a verification: one argon2 run with the same parameters.
                let salt = SaltString::generate(&mut OsRng);
                let _ = argon2.hash_password(password.as_bytes(), &salt);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_takes_a_slot_and_gives_it_back() {
        let hasher = Hasher::new(PasswordHashing { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 1 })
            .expect("params");
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = hasher.clone();
        let held = tokio::spawn(async move { busy.run(move || wait.recv().is_ok()).await });
        while hasher.slots.available_permits() != 0 {
            tokio::task::yield_now().await;
        }
        // The only slot is taken: a second hash waits rather than running.
        let second = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("another-password").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "a second hash must wait for the slot");
        release.send(()).expect("release");
        assert!(held.await.expect("join").expect("ran"));
        assert!(second.await.expect("join").is_ok());
        assert_eq!(hasher.slots.available_permits(), 1);
    }

    fn hasher() -> Hasher {
        Hasher::new(PasswordHashing { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 1 })
            .expect("params")
    }

    #[test]
    fn the_common_list_is_large_and_used() {
        assert!(COMMON.len() >= 10_000, "only {} common passwords", COMMON.len());
        assert!(check_policy("password", "password1", "bob").is_err());
        assert!(check_policy("password", "Qwerty123", "bob").is_err(), "case-insensitive");
    }

    #[test]
    fn the_policy_bounds_length_and_refuses_the_username() {
        assert!(check_policy("password", "short1!", "bob").is_err());
        assert!(check_policy("password", &"x".repeat(1025), "bob").is_err());
        assert!(check_policy("password", "my-alice-secret-77", "alice").is_err());
        assert!(check_policy("password", "correct horse battery staple", "alice").is_ok());
        // Eight characters, counted as characters, not bytes.
        assert!(check_policy("password", "żółwiąęźk", "bob").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let h = hasher();
        let hash = h.hash("correct horse battery staple").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(h.verify("correct horse battery staple", Some(&hash)).await.expect("verify"));
        assert!(!h.verify("wrong horse", Some(&hash)).await.expect("verify"));
        assert!(!h.verify("anything", None).await.expect("verify"));
    }
}
