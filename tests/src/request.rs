//! The one way tests build an HTTP request for a router, from the plain
//! `app.call(…)` to raw bodies, content types and headers of the test's
//! choosing, and the response it gets, read in full.

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, HeaderName, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The credentials a test request carries.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
    AdminSecret(&'a str),
}

/// A request being built for a router; it comes from `127.0.0.1` (as the
/// local server sees its peers) unless [`TestRequest::from_ip`] says otherwise.
#[must_use]
pub struct TestRequest<'a> {
    router: &'a Router,
    builder: http::request::Builder,
    body: Body,
    ip: String,
}

impl<'a> TestRequest<'a> {
    /// A request to `router`; usually made by [`crate::TestApp::request`].
    pub fn new(router: &'a Router, method: Method, path: &str) -> Self {
        let builder = Request::builder().method(method).uri(path).header(http::header::USER_AGENT, "krv-tests");
        Self { router, builder, body: Body::empty(), ip: "127.0.0.1".to_owned() }
    }

    /// Adds the header `name: value`.
    pub fn header(mut self, name: impl TryInto<HeaderName, Error: std::fmt::Debug>, value: &str) -> Self {
        self.builder = self.builder.header(name.try_into().expect("header name"), value);
        self
    }

    /// Adds the headers `auth` stands for.
    pub fn auth(self, auth: Auth<'_>) -> Self {
        match auth {
            Auth::None => self,
            Auth::Bearer(token) => self.header(http::header::AUTHORIZATION, &format!("Bearer {token}")),
            Auth::Cookie(token) => self.header(http::header::COOKIE, &format!("kohakuriver_session={token}")),
            Auth::AdminSecret(secret) => self.header("x-admin-secret", secret),
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.auth(Auth::Bearer(token))
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: &Value) -> Self {
        self.body("application/json", body.to_string())
    }

    /// A JSON body when there is one.
    pub fn json_opt(self, body: Option<&Value>) -> Self {
        match body {
            Some(json) => self.json(json),
            None => self,
        }
    }

    /// Any body, sent as `content_type` whatever it holds.
    pub fn body(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.builder = self.builder.header(http::header::CONTENT_TYPE, content_type);
        self.body = body.into();
        self
    }

    /// The client address the service sees.
    pub fn from_ip(mut self, ip: &str) -> Self {
        ip.clone_into(&mut self.ip);
        self
    }

    /// The request as built, for a service other than the router.
    pub fn into_request(self) -> Request<Body> {
        let mut request = self.builder.body(self.body).expect("request");
        let addr: std::net::SocketAddr = format!("{}:40000", self.ip).parse().expect("address");
        request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        request
    }

    /// Sends the request through the whole router (layers included).
    pub async fn send(self) -> TestResponse {
        let router = self.router;
        TestResponse::from_router(router, self.into_request()).await
    }
}

/// A finished response with its body read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: bytes::Bytes,
}

impl TestResponse {
    /// What `router` answers to `request`.
    pub async fn from_router(router: &Router, request: Request<Body>) -> Self {
        let response = router.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Self { status, headers, bytes }
    }

    /// The body as JSON; fails the test if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The `Set-Cookie` header of the session cookie, if set.
    pub fn session_cookie(&self) -> Option<&str> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("kohakuriver_session="))
    }

    /// The session token the response's cookie sets, if any.
    pub fn session_token(&self) -> Option<String> {
        let cookie = self.session_cookie()?;
        let value = cookie.trim_start_matches("kohakuriver_session=").split(';').next()?;
        (!value.is_empty()).then(|| value.to_owned())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Fails the test unless the status is `expected`, showing the body.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(self.status, expected, "unexpected status; body: {}", String::from_utf8_lossy(&self.bytes));
        self
    }

    /// Fails the test unless this is an error in the service's shape with `status`.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) -> Value {
        self.assert_status(status);
        let body = self.json();
        assert!(body["detail"].is_string(), "detail must be a string: {body}");
        assert_eq!(body["code"], code, "unexpected code: {body}");
        body
    }
}
