//! The HTTP client of single sign-on: the workspace's reqwest, given to the
//! `openidconnect` crate as its async client. Redirects are never followed
//! (a provider's endpoint that redirects could otherwise send our client
//! secret or code elsewhere), and every call is bounded in time.

use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};

use crate::db::StoreError;

/// How long one call to a provider may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn client() -> Result<reqwest::Client, StoreError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent("kohakuriver-sso")
        .build()
        .map_err(|e| StoreError::Internal(anyhow::anyhow!("the SSO HTTP client: {e}")))
}

/// A failed call (transport or a body that could not be read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The `openidconnect` crate's async client over `reqwest::Client`. A
/// named type with a boxed `Send` future, not a closure: a closure's future
/// is not `Send` for every lifetime, which axum's handlers must be.
pub struct Via<'a>(pub &'a reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Via<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Sends `request` with `client`.
pub async fn send(client: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let mut outgoing = client.request(parts.method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let response = outgoing.send().await.map_err(|e| HttpError(e.without_url().to_string()))?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await.map_err(|e| HttpError(e.without_url().to_string()))?;
    builder.body(body.to_vec()).map_err(|e| HttpError(e.to_string()))
}
