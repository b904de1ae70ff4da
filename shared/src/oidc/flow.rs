//! The authorization code flow with PKCE (S256).
//!
//! [`begin`] makes the provider's authorization URL and keeps what the
//! callback needs in Redis under the SHA-256 of the `state` value
//! (`oidc:{p:<id>}:state:<hash>`, ten minutes): the PKCE verifier, the
//! `nonce`, where to go after (`next`), the user a linking flow links to,
//! and the hash of the browser's binding cookie. [`finish`] takes that entry
//! out with GETDEL (a `state` works once, and only at the provider it was
//! made for: the key carries the provider), checks the binding (a `state`
//! carried to another browser is refused), exchanges the code and verifies
//! the ID token (signature against the provider's keys, issuer, audience,
//! expiry, nonce) with the `openidconnect` crate.

use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::discovery;
use super::{OidcError, ProviderConfig, Registry};
use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::db::kv::Redis;

/// How long a started flow waits for its callback.
pub const TTL_SECS: u64 = 600;

/// What the callback needs of the flow that [`begin`] started.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    provider: String,
    nonce: String,
    pkce_verifier: String,
    next: String,
    /// A linking flow: the user the identity is linked to.
    link_user: Option<u64>,
    /// SHA-256 of the browser binding cookie (a login flow).
    binding: Option<String>,
}

/// A flow's start: the URL to send the browser to.
#[derive(Debug)]
pub struct Started {
    pub url: String,
}

/// What the provider's redirect to our callback carries.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's error code (`access_denied`, …) when it refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the issuer that answered, checked when present.
    pub iss: Option<String>,
}

/// A verified login at a provider.
#[derive(Debug, Clone)]
pub struct Verified {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// Every claim of the verified ID token.
    pub claims: serde_json::Map<String, serde_json::Value>,
    pub next: String,
    pub link_user: Option<u64>,
}

fn state_key(redis: &Redis, provider: &str, state: &str) -> String {
    redis.key(&format!("oidc:{{p:{provider}}}:state:{}", sha256_hex(state)))
}

/// The callback URL registered at the provider.
pub fn redirect_uri(public_url: &str, provider: &str) -> String {
    format!("{}/api/auth/oidc/{provider}/callback", public_url.trim_end_matches('/'))
}

/// `next` if it is a path of this origin (`/…`, not `//host` or `/\host`, no
/// control characters), else `/`.
pub fn same_origin_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 1024
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

fn client(provider: &ProviderConfig, metadata: CoreProviderMetadata, redirect: &str) -> Result<Client, OidcError> {
    // Basic authentication unless the provider only takes the secret in the body.
    let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|methods| {
        !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
    });
    let redirect =
        RedirectUrl::new(redirect.to_owned()).map_err(|e| OidcError::Rejected(format!("redirect URI: {e}")))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(provider.client_secret.expose_secret().to_owned())),
    )
    .set_redirect_uri(redirect);
    Ok(if post_only { client.set_auth_type(AuthType::RequestBody) } else { client })
}

/// Starts a flow at `provider`: stores its state and answers the provider's
/// authorization URL. `binding` is the browser binding cookie's value for a
/// login; a linking flow (`link_user`) is bound to the user's session instead.
pub async fn begin(
    registry: &Registry,
    redis: &Redis,
    provider: &ProviderConfig,
    redirect: &str,
    next: String,
    link_user: Option<u64>,
    binding: Option<&str>,
) -> Result<Started, OidcError> {
    let metadata = discovery::metadata(&registry.http, redis, provider).await?;
    let client = client(provider, metadata, redirect)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        || CsrfToken::new(random_token(32)),
        || Nonce::new(random_token(32)),
    );
    for scope in provider.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let pending = Pending {
        provider: provider.id.clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next,
        link_user,
        binding: binding.map(sha256_hex),
    };
    let value = serde_json::to_string(&pending).map_err(|e| OidcError::Rejected(e.to_string()))?;
    let key = state_key(redis, &provider.id, state.secret());
    redis.query::<()>(redis::cmd("SET").arg(key).arg(value).arg("EX").arg(TTL_SECS)).await?;
    Ok(Started { url: url.to_string() })
}

/// Finishes a flow at our callback: the state taken out (once), the binding
/// checked, the code exchanged and the ID token verified.
pub async fn finish(
    registry: &Registry,
    redis: &Redis,
    provider: &ProviderConfig,
    redirect: &str,
    query: &CallbackQuery,
    binding: Option<&str>,
) -> Result<Verified, OidcError> {
    let state = query.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512).ok_or(OidcError::InvalidState)?;
    let raw: Option<String> = redis.query(redis::cmd("GETDEL").arg(state_key(redis, &provider.id, state))).await?;
    let pending: Pending = raw.and_then(|r| serde_json::from_str(&r).ok()).ok_or(OidcError::InvalidState)?;
    if pending.provider != provider.id {
        return Err(OidcError::ForeignState);
    }
    if let Some(expected) = &pending.binding {
        let given = binding.map(sha256_hex).unwrap_or_default();
        if !constant_time_eq(&given, expected) {
            return Err(OidcError::ForeignState);
        }
    }
    if let Some(error) = &query.error {
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        return Err(OidcError::Provider(code));
    }
    if query.iss.as_deref().is_some_and(|iss| iss.trim_end_matches('/') != provider.issuer) {
        return Err(OidcError::Rejected("the answer came from another issuer".into()));
    }
    let code = query.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| OidcError::Provider("no code".into()))?;

    let metadata = discovery::metadata(&registry.http, redis, provider).await?;
    let client = client(provider, metadata.clone(), redirect)?;
    let http = super::http::Via(&registry.http);
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| OidcError::Unreachable(format!("no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => OidcError::Provider(r.error().to_string()),
            RequestTokenError::Parse(_, _) => OidcError::Rejected("the token answer does not parse".into()),
            other => OidcError::Unreachable(other.to_string()),
        })?;
    let id_token = response.id_token().ok_or_else(|| OidcError::Rejected("no ID token".into()))?;
    let nonce = Nonce::new(pending.nonce.clone());

    let verify = |client: &Client| -> Result<(String, String), ClaimsVerificationError> {
        let verifier = client.id_token_verifier().set_allowed_algs(ASYMMETRIC);
        let claims = id_token.claims(&verifier, &nonce)?;
        Ok((claims.issuer().as_str().to_owned(), claims.subject().as_str().to_owned()))
    };
    let (issuer, subject) = match verify(&client) {
        Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
            // The provider may have rotated its keys: refetch them once.
            match discovery::refresh_jwks(&registry.http, redis, provider, &metadata).await? {
                Some(jwks) => {
                    verify(&self::client(provider, metadata.set_jwks(jwks), redirect)?).map_err(|e| rejected(&e))?
                }
                None => return Err(OidcError::Rejected("signed with an unknown key".into())),
            }
        }
        other => other.map_err(|e| rejected(&e))?,
    };
    Ok(Verified {
        provider: provider.id.clone(),
        issuer,
        subject,
        claims: payload(&id_token.to_string())?,
        next: pending.next,
        link_user: pending.link_user,
    })
}

/// The signature algorithms accepted: asymmetric ones only (an HMAC with the
/// client secret would make anyone holding the secret an issuer).
const ASYMMETRIC: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

fn rejected(error: &ClaimsVerificationError) -> OidcError {
    let what = match error {
        ClaimsVerificationError::Expired(_) => "expired",
        ClaimsVerificationError::InvalidAudience(_) => "wrong audience",
        ClaimsVerificationError::InvalidIssuer(_) => "wrong issuer",
        ClaimsVerificationError::InvalidNonce(_) => "wrong nonce",
        ClaimsVerificationError::SignatureVerification(_) => "bad signature",
        _ => "invalid claims",
    };
    OidcError::Rejected(what.into())
}

/// The claims of a JWT whose signature was verified.
fn payload(jwt: &str) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
    let bad = || OidcError::Rejected("the ID token's claims do not parse".into());
    let part = jwt.split('.').nth(1).ok_or_else(bad)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_path_of_this_origin_or_the_root() {
        assert_eq!(same_origin_path(Some("/tasks?x=1")), "/tasks?x=1");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "", "/a\nb"] {
            assert_eq!(same_origin_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(same_origin_path(None), "/");
    }
}
