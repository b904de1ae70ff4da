//! Session tokens: a JWT (HS256) naming a random session id. The token alone is
//! not enough: the session must also exist in Redis, which is what makes logout
//! and revocation immediate on every instance.

use crate::config::Config;
use crate::crypto::{random_token, sha256_hex};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The session id (random, 256 bits); Redis stores only its hash.
    pub sid: String,
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
}

/// The signing keys, built once.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// A freshly issued session token.
pub struct Issued {
    pub token: String,
    /// SHA-256 of the session id: the Redis key.
    pub hash: String,
}

impl SessionKeys {
    pub fn from_config(config: &Config) -> Self {
        // With auth disabled there are no sessions; a random key makes any token invalid.
        let secret =
            config.session_signing_key.as_ref().map_or_else(|| random_token(48), |k| k.expose_secret().to_owned());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn issue(&self, user_id: u64, now_secs: i64, expires_secs: i64) -> Result<Issued, jsonwebtoken::errors::Error> {
        let sid = random_token(32);
        let claims = Claims { sid: sid.clone(), sub: user_id.to_string(), iat: now_secs, exp: expires_secs };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(Issued { token, hash: sha256_hex(&sid) })
    }

    /// The claims of a token signed with our key and not expired, else `None`.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

/// Whether a bearer value has the shape of a JWT (three dot-separated parts),
/// as opposed to an API token.
pub fn looks_like_jwt(value: &str) -> bool {
    value.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn keys(key: &str) -> SessionKeys {
        SessionKeys::from_config(&Config::from(&Env::from_map([("SESSION_SIGNING_KEY", key)])).expect("config"))
    }

    #[test]
    fn tokens_verify_only_with_the_same_key_and_before_expiry() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let a = keys("a-signing-key-of-sufficient-length-000");
        let b = keys("another-signing-key-of-sufficient-len");
        let issued = a.issue(7, now, now + 3600).expect("issue");
        let claims = a.verify(&issued.token).expect("valid");
        assert_eq!(claims.sub, "7");
        assert_eq!(sha256_hex(&claims.sid), issued.hash);
        assert!(b.verify(&issued.token).is_none(), "foreign key");
        let expired = a.issue(7, now - 10, now - 5).expect("issue");
        assert!(a.verify(&expired.token).is_none(), "expired");
        let mut tampered = issued.token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(a.verify(&tampered).is_none(), "tampered");
        assert!(looks_like_jwt(&issued.token));
        assert!(!looks_like_jwt("krv_abcdef"));
    }
}
