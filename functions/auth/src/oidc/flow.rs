//! `GET /api/auth/oidc/providers`, `GET /api/auth/oidc/{provider}/start` and
//! `GET /api/auth/oidc/{provider}/callback`: a browser's login through a
//! provider. Start and callback always answer with a redirect: to the
//! provider, to `next`, or to the panel's login page with `sso_error` (a
//! short sentence, never a stack of JSON) or with `mfa_token` when the
//! user's own second factor is due.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use shared::audit::{self, Outcome};
use shared::auth::{ClientInfo, MaybeCaller};
use shared::http::extract::Path;
use shared::mfa::Method;
use shared::mfa::challenge::{self, Challenge};
use shared::oidc::flow::{self, CallbackQuery, Verified};
use shared::oidc::view::ProviderView;
use shared::oidc::{OidcError, ProviderConfig, browser, mapping, provision};
use shared::sessions::PROVIDER_MFA_FIELD;
use shared::types::Timestamp;
use shared::users::UserRecord;
use shared::{ApiError, AppState};

use super::{cookie, redirect};
use crate::login::recorded;
use crate::session;

/// The configured providers, for the login page's buttons.
#[utoipa::path(get, path = "/api/auth/oidc/providers", tag = "auth", security(()),
    responses((status = 200, description = "The providers users may log in with", body = Vec<ProviderView>)))]
pub async fn providers(State(state): State<AppState>) -> Json<Vec<ProviderView>> {
    Json(state.keys.oidc.providers.iter().map(ProviderView::from).collect())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where to land after the login: a path of this service (anything else becomes `/`).
    next: Option<String>,
}

/// The provider and our callback URL for it.
pub(super) fn provider<'a>(state: &'a AppState, id: &str) -> Result<(&'a ProviderConfig, String), OidcError> {
    let provider = state.keys.oidc.get(id).ok_or(OidcError::UnknownProvider)?;
    let public_url = state.config.public_url.as_deref().ok_or(OidcError::UnknownProvider)?;
    Ok((provider, flow::redirect_uri(public_url, &provider.id)))
}

/// Starts a login at the provider: 302 to its authorization endpoint (code
/// flow, PKCE S256, `state` and `nonce` kept ten minutes, single use), with
/// the cookie that binds the flow to this browser.
#[utoipa::path(get, path = "/api/auth/oidc/{provider}/start", tag = "auth", security(()),
    params(("provider" = String, Path, description = "A provider id"), StartQuery),
    responses(
        (status = 302, description = "To the provider (Location); or to `/login?sso_error=…` when the provider is unknown or unreachable"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<StartQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let next = flow::same_origin_path(query.ok().and_then(|q| q.0.next).as_deref());
    let secure = state.config.cookie_secure;
    let binding = browser::binding_or_new(&headers);
    let started = async {
        shared::auth::ensure_enabled(&state.config).map_err(|_| OidcError::UnknownProvider)?;
        let (provider, callback) = provider(&state, &id)?;
        flow::begin(&state.keys.oidc, &state.stores.redis, provider, &callback, next, None, Some(&binding)).await
    };
    match started.await {
        Ok(started) => {
            redirect(&started.url, &cookie(&browser::set_binding(&binding, secure)).into_iter().collect::<Vec<_>>())
        }
        Err(error) => {
            log(&error);
            redirect(&browser::login_error(&error), &[])
        }
    }
}

/// The provider's answer: the code exchanged, the ID token verified, the
/// identity's user logged in (provisioned or synced by the provider's rules)
/// with the session cookie, then 302 to `next`. A linking flow links the
/// identity to the logged-in user instead. Any failure: 302 to
/// `/login?sso_error=…`.
#[utoipa::path(get, path = "/api/auth/oidc/{provider}/callback", tag = "auth", security(()),
    params(("provider" = String, Path, description = "A provider id"), CallbackQuery),
    responses(
        (status = 302, description = "To `next` with the session cookie; to `/login?mfa_token=…&methods=…&next=…` when the user's own second factor is due; to `/login?sso_error=…` on any failure"),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    caller: Result<MaybeCaller, ApiError>,
    client: ClientInfo,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<CallbackQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let caller_id = caller.ok().and_then(|c| c.0.user_id());
    let clear = cookie(&browser::clear_binding(state.config.cookie_secure));
    match land(&state, caller_id, &client, &id, &query, &headers).await {
        Ok((location, session)) => {
            let cookies: Vec<HeaderValue> = clear.into_iter().chain(session).collect();
            redirect(&location, &cookies)
        }
        Err(failure) => {
            let error = match failure {
                Failure::Oidc(e) => e,
                Failure::Api(e) => {
                    tracing::warn!(error = %e, "a single sign-on callback failed");
                    OidcError::Store(shared::db::StoreError::Internal(anyhow::anyhow!("{e}")))
                }
            };
            log(&error);
            if state.keys.oidc.get(&id).is_some() && !matches!(error, OidcError::Store(_)) {
                let event = client
                    .event((shared::audit::ANONYMOUS_USERNAME.to_owned(), None), "auth.login", Outcome::Failure)
                    .target(format!("oidc:{id}"))
                    .reason(error.reason())
                    .detail(error.to_string());
                if let Err(e) = audit::record(&state.stores, &event).await {
                    tracing::warn!(error = %e, "could not audit a failed single sign-on");
                }
            }
            redirect(&browser::login_error(&error), &clear.into_iter().collect::<Vec<_>>())
        }
    }
}

fn log(error: &OidcError) {
    match error {
        OidcError::Unreachable(why) => tracing::warn!(%why, "an OpenID provider could not be used"),
        OidcError::Rejected(why) => tracing::info!(%why, "an ID token was refused"),
        OidcError::Store(e) => tracing::warn!(error = %e, "single sign-on: a store failed"),
        _ => {}
    }
}

enum Failure {
    Oidc(OidcError),
    Api(ApiError),
}

impl From<OidcError> for Failure {
    fn from(e: OidcError) -> Self {
        Self::Oidc(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<shared::db::StoreError> for Failure {
    fn from(e: shared::db::StoreError) -> Self {
        Self::Oidc(e.into())
    }
}

/// Where the callback sends the browser, and the session cookie if one began.
async fn land(
    state: &AppState,
    caller_id: Option<u64>,
    client: &ClientInfo,
    id: &str,
    query: &CallbackQuery,
    headers: &HeaderMap,
) -> Result<(String, Option<HeaderValue>), Failure> {
    shared::auth::ensure_enabled(&state.config).map_err(|_| OidcError::UnknownProvider)?;
    let (provider, callback) = provider(state, id)?;
    let binding = browser::binding(headers);
    let verified =
        flow::finish(&state.keys.oidc, &state.stores.redis, provider, &callback, query, binding.as_deref()).await?;
    if let Some(user_id) = verified.link_user {
        // A linking flow belongs to the session that started it.
        if caller_id != Some(user_id) {
            return Err(OidcError::ForeignState.into());
        }
        let user = shared::users::get(&state.stores, user_id).await?.ok_or(OidcError::Disabled)?;
        provision::link_to(&state.stores, provider, &verified, &user, client).await?;
        return Ok((verified.next, None));
    }
    let user = provision::sign_in(&state.stores, &state.config, provider, &verified, client).await?;
    let vouched = mapping::mfa_satisfied(provider, &verified.claims);
    if user.mfa.any() && !vouched {
        return second_factor_due(state, client, provider, &user, &verified).await;
    }
    let now = Timestamp::now();
    let how = if vouched {
        format!("single sign-on ({}); second factor vouched for by the provider", provider.id)
    } else {
        format!("single sign-on ({})", provider.id)
    };
    let user = recorded(state, client, &user, now, Some(how)).await?;
    let mut extra = vec![(browser::SESSION_PROVIDER_FIELD, provider.id.clone())];
    if vouched {
        extra.push((PROVIDER_MFA_FIELD, provider.id.clone()));
    }
    let opened = session::open(state, &user, client, &extra).await?;
    Ok((verified.next, Some(opened.cookie)))
}

/// The user has a second factor the provider did not vouch for: the panel's
/// login page finishes the login with it (`mfa_token`, as after a password).
async fn second_factor_due(
    state: &AppState,
    client: &ClientInfo,
    provider: &ProviderConfig,
    user: &UserRecord,
    verified: &Verified,
) -> Result<(String, Option<HeaderValue>), Failure> {
    let pending = Challenge::for_user(user, &client.addr);
    let token = challenge::issue(&state.stores.redis, &pending).await?;
    let event = client
        .event((shared::audit::ANONYMOUS_USERNAME.to_owned(), None), "auth.mfa_challenge", Outcome::Success)
        .target(format!("user:{} {}", user.id, user.username))
        .detail(format!("single sign-on ({}) accepted; second factor due", provider.id));
    audit::record(&state.stores, &event).await?;
    let names: Vec<&str> = pending.methods.iter().map(method_name).collect();
    Ok((browser::login_second_factor(&token, &names, &verified.next), None))
}

fn method_name(method: &Method) -> &'static str {
    match method {
        Method::Totp => "totp",
        Method::Webauthn => "webauthn",
        Method::Recovery => "recovery",
    }
}

/// The provider logout URL of the session `hash` of `user_id`, if it came
/// from a provider with logout on. Best effort: logging out here never
/// fails because a provider cannot be asked.
pub(crate) async fn provider_logout(state: &AppState, user_id: u64, hash: &str) -> Option<String> {
    let found = async {
        let Some(id) = browser::session_provider(&state.stores.redis, user_id, hash).await? else {
            return Ok(None);
        };
        let Some(provider) = state.keys.oidc.get(&id) else { return Ok(None) };
        let public_url = state.config.public_url.as_deref();
        browser::logout_url(&state.keys.oidc, &state.stores.redis, provider, public_url).await
    };
    match found.await {
        Ok(url) => url,
        Err(e) => {
            log(&e);
            None
        }
    }
}
