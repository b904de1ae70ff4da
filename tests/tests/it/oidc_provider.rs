//! The OpenID provider the single sign-on tests run against
//! (tests/oidc-provider, started by `krv_tests::TestIdp`): discovery, the
//! code flow with PKCE as a relying party plays it, the queue of scripted
//! logins, every ID token corruption the tamper endpoint offers, and the
//! device authorization grant. The service's own relying party is tested
//! elsewhere; this checks that the harness it is tested with tells the truth.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use krv_tests::{IdpClient, TestIdp};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "krv-test-client";
const CLIENT_SECRET: &str = "krv-test-client-secret";
/// Never served: the provider's last redirect is read, not followed.
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const POST_LOGOUT_URI: &str = "http://127.0.0.1:9/signed-out";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn start() -> TestIdp {
    TestIdp::start(vec![IdpClient {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec![POST_LOGOUT_URI.into()],
    }])
    .await
    .expect("the OpenID provider starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn discovery(idp: &TestIdp) -> Value {
    let url = format!("{}/.well-known/openid-configuration", idp.issuer);
    let response = http().get(&url).send().await.expect("discovery answers");
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.expect("discovery is JSON")
}

async fn jwks(idp: &TestIdp) -> JwkSet {
    let uri = discovery(idp).await["jwks_uri"].as_str().expect("jwks_uri").to_owned();
    http().get(uri).send().await.expect("JWKS answers").json().await.expect("JWKS is a JWK set")
}

fn random() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// What the client keeps between the authorization request and the token request.
struct Pending {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

/// An authorization request as a relying party builds it; `pkce: false`
/// leaves the code challenge out.
async fn authorization_request(idp: &TestIdp, scope: &str, pkce: bool) -> Pending {
    let endpoint = discovery(idp).await["authorization_endpoint"].as_str().expect("authorization_endpoint").to_owned();
    let (state, nonce, verifier) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = Url::parse(&endpoint).expect("endpoint URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce);
    if pkce {
        url.query_pairs_mut().append_pair("code_challenge", &challenge).append_pair("code_challenge_method", "S256");
    }
    Pending { url: url.to_string(), state, nonce, verifier }
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url).expect("redirect URL").query_pairs().into_owned().collect()
}

/// Runs the authorization request through the provider and returns the code
/// its redirect back to the client carries (after checking `state`).
async fn authorize(idp: &TestIdp, pending: &Pending) -> String {
    let back = idp.authorize(&pending.url).await.expect("the provider redirects back");
    assert!(back.starts_with(REDIRECT_URI), "redirected to {back}");
    let params = query(&back);
    assert_eq!(params.get("state"), Some(&pending.state), "state comes back: {back}");
    assert_eq!(params.get("iss"), Some(&idp.issuer), "the issuer is named (RFC 9207): {back}");
    params.get("code").unwrap_or_else(|| panic!("no code in {back}")).clone()
}

/// `application/x-www-form-urlencoded` (the workspace's reqwest has no `form`).
fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").expect("URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// POSTs to the token endpoint with the client's secret (HTTP Basic).
async fn token_request(idp: &TestIdp, form: &[(&str, &str)]) -> (u16, Value) {
    let endpoint = discovery(idp).await["token_endpoint"].as_str().expect("token_endpoint").to_owned();
    let response = http()
        .post(endpoint)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .send()
        .await
        .expect("token endpoint answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("token answer is JSON"))
}

async fn exchange(idp: &TestIdp, pending: &Pending, code: &str) -> Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", pending.verifier.as_str()),
    ];
    let (status, body) = token_request(idp, &form).await;
    assert_eq!(status, 200, "token exchange: {body}");
    body
}

/// A whole code flow as `sub` with `claims`; the token response.
async fn code_flow(idp: &TestIdp, sub: &str, claims: Value) -> (Pending, Value) {
    idp.next_login(sub, claims).await.expect("next-login");
    let pending = authorization_request(idp, "openid email profile", true).await;
    let code = authorize(idp, &pending).await;
    let tokens = exchange(idp, &pending, &code).await;
    (pending, tokens)
}

fn id_token(tokens: &Value) -> &str {
    tokens["id_token"].as_str().unwrap_or_else(|| panic!("no id_token in {tokens}"))
}

/// The payload of a JWT, read without any check.
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url payload")).expect("JSON payload")
}

/// Verifies the signature against the provider's JWKS only (no claim checks),
/// as the first step of a relying party's verification.
fn verify_signature(jwt: &str, keys: &JwkSet) -> jsonwebtoken::errors::Result<Value> {
    let header = jsonwebtoken::decode_header(jwt)?;
    let kid = header.kid.expect("the ID token names its key");
    let jwk = keys.find(&kid).unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    Ok(jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

/// A full relying party check: signature, issuer, audience, expiry.
fn verify(idp: &TestIdp, jwt: &str, keys: &JwkSet) -> jsonwebtoken::errors::Result<Value> {
    let kid = jsonwebtoken::decode_header(jwt)?.kid.expect("kid");
    let jwk = keys.find(&kid).expect("kid in the JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[idp.issuer.as_str()]);
    Ok(jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_names_the_endpoints_and_requires_s256() {
    let idp = start().await;
    assert!(idp.issuer.starts_with("http://127.0.0.1:"), "issuer {}", idp.issuer);
    let doc = discovery(&idp).await;
    assert_eq!(doc["issuer"], idp.issuer.as_str());
    for endpoint in
        ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"]
    {
        let url = doc[endpoint].as_str().unwrap_or_else(|| panic!("no {endpoint} in {doc}"));
        assert!(url.starts_with(&idp.issuer), "{endpoint} {url}");
    }
    assert!(doc["device_authorization_endpoint"].as_str().is_some(), "device flow is enabled: {doc}");
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(doc["grant_types_supported"].as_array().expect("grant types").contains(&json!(DEVICE_GRANT)));
    for scope in ["openid", "email", "profile", "groups"] {
        assert!(doc["scopes_supported"].as_array().expect("scopes").contains(&json!(scope)), "{scope}: {doc}");
    }
    let keys = jwks(&idp).await;
    assert_eq!(keys.keys.len(), 1, "one signing key");
    assert!(keys.keys[0].common.key_id.is_some(), "the key has a kid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_gives_a_verified_id_token_with_the_scripted_claims() {
    let idp = start().await;
    let claims = json!({
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "preferred_username": "ada",
        "groups": ["hpc-admins", "team-a"],
        "amr": ["pwd", "otp"],
        "acr": "urn:example:mfa",
    });
    let (pending, tokens) = code_flow(&idp, "sub-ada", claims.clone()).await;
    let keys = jwks(&idp).await;
    let verified = verify(&idp, id_token(&tokens), &keys).expect("the ID token verifies");
    assert_eq!(verified["sub"], "sub-ada");
    assert_eq!(verified["nonce"], pending.nonce.as_str());
    for claim in ["email", "name", "preferred_username", "groups", "amr", "acr"] {
        assert_eq!(verified[claim], claims[claim], "{claim} in {verified}");
    }

    // userinfo carries the same claims for the access token.
    let userinfo = discovery(&idp).await["userinfo_endpoint"].as_str().expect("userinfo").to_owned();
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let info: Value = http()
        .get(userinfo)
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo answers")
        .json()
        .await
        .expect("userinfo is JSON");
    assert_eq!(info["sub"], "sub-ada");
    assert_eq!(info["groups"], claims["groups"], "{info}");
    assert_eq!(info["email"], claims["email"], "{info}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_logins_serve_flows_in_order_and_once() {
    let idp = start().await;
    idp.next_login("sub-first", json!({"groups": ["team-a"]})).await.expect("next-login");
    idp.next_login("sub-second", json!({"groups": []})).await.expect("next-login");
    for (sub, groups) in [("sub-first", json!(["team-a"])), ("sub-second", json!([]))] {
        let pending = authorization_request(&idp, "openid profile", true).await;
        let code = authorize(&idp, &pending).await;
        let claims = payload(id_token(&exchange(&idp, &pending, &code).await));
        assert_eq!(claims["sub"], sub);
        assert_eq!(claims["groups"], groups, "{claims}");
    }
    // The queue is empty: the provider refuses rather than logging anyone in.
    let pending = authorization_request(&idp, "openid", true).await;
    let error = idp.authorize(&pending.url).await.expect_err("no login is queued").to_string();
    assert!(error.contains("403") && error.contains("no test login set"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_is_required_and_checked() {
    let idp = start().await;
    // No code challenge: the provider sends the error back to the client.
    let pending = authorization_request(&idp, "openid", false).await;
    let back = idp.authorize(&pending.url).await.expect("redirected back with an error");
    let params = query(&back);
    assert_eq!(params.get("error").map(String::as_str), Some("invalid_request"), "{back}");
    assert!(!params.contains_key("code"), "{back}");

    // A wrong verifier at the token endpoint is refused, and so is a code used twice.
    idp.next_login("sub-pkce", json!({})).await.expect("next-login");
    let pending = authorization_request(&idp, "openid", true).await;
    let code = authorize(&idp, &pending).await;
    let wrong = random();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", wrong.as_str()),
    ];
    let (status, body) = token_request(&idp, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    idp.next_login("sub-pkce", json!({})).await.expect("next-login");
    let pending = authorization_request(&idp, "openid", true).await;
    let code = authorize(&idp, &pending).await;
    exchange(&idp, &pending, &code).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", pending.verifier.as_str()),
    ];
    let (status, body) = token_request(&idp, &form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "a replayed code: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tamper_mode_corrupts_the_next_id_token_as_named() {
    let idp = start().await;
    let keys = jwks(&idp).await;
    for mode in ["wrong_audience", "expired", "other_key", "wrong_nonce", "wrong_issuer", "alg_none"] {
        idp.tamper(mode).await.expect("tamper");
        let (pending, tokens) = code_flow(&idp, "sub-tamper", json!({"groups": ["team-a"]})).await;
        let jwt = id_token(&tokens);
        let claims = payload(jwt);
        assert_eq!(claims["sub"], "sub-tamper", "{mode}: the rest of the token is kept: {claims}");
        match mode {
            "other_key" => {
                let error = verify_signature(jwt, &keys).expect_err("signed by a key outside the JWKS");
                assert_eq!(error.kind(), &jsonwebtoken::errors::ErrorKind::InvalidSignature, "{mode}");
            }
            "alg_none" => {
                let header: Value = serde_json::from_slice(
                    &URL_SAFE_NO_PAD
                        .decode(jwt.split('.').next().expect("a JWT has a header"))
                        .expect("base64url header"),
                )
                .expect("JSON header");
                assert_eq!(header["alg"], "none");
                assert!(jwt.ends_with('.'), "no signature: {jwt}");
                assert!(verify_signature(jwt, &keys).is_err(), "an unsigned token never verifies");
            }
            _ => {
                let signed =
                    verify_signature(jwt, &keys).unwrap_or_else(|e| panic!("{mode}: signed by the provider: {e}"));
                let wrong = match mode {
                    "wrong_audience" => signed["aud"] != CLIENT_ID,
                    "expired" => signed["exp"].as_i64().expect("exp") < now() - 600,
                    "wrong_nonce" => signed["nonce"] != pending.nonce.as_str() && signed["nonce"].is_string(),
                    "wrong_issuer" => signed["iss"] != idp.issuer.as_str() && signed["iss"].is_string(),
                    _ => unreachable!(),
                };
                assert!(wrong, "{mode} left the token right: {signed}");
                assert!(verify(&idp, jwt, &keys).is_err() || mode == "wrong_nonce", "{mode} passes a full check");
            }
        }
        // The corruption was for one response only.
        let (pending, tokens) = code_flow(&idp, "sub-tamper", json!({})).await;
        let verified = verify(&idp, id_token(&tokens), &keys).unwrap_or_else(|e| panic!("after {mode}: {e}"));
        assert_eq!(verified["nonce"], pending.nonce.as_str(), "after {mode}");
    }

    // `none` cancels a pending corruption; an unknown mode is refused.
    idp.tamper("expired").await.expect("tamper");
    idp.tamper("none").await.expect("tamper");
    let (_, tokens) = code_flow(&idp, "sub-tamper", json!({})).await;
    verify(&idp, id_token(&tokens), &keys).expect("nothing was corrupted after none");
    assert!(idp.tamper("sideways").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_gives_tokens_once_approved() {
    let idp = start().await;
    let endpoint = discovery(&idp).await["device_authorization_endpoint"].as_str().expect("endpoint").to_owned();
    let response = http()
        .post(endpoint)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("scope", "openid profile")]))
        .send()
        .await
        .expect("device authorization answers");
    assert_eq!(response.status(), 200);
    let device: Value = response.json().await.expect("device answer is JSON");
    let device_code = device["device_code"].as_str().expect("device_code").to_owned();
    let user_code = device["user_code"].as_str().expect("user_code").to_owned();
    assert!(device["verification_uri"].as_str().is_some(), "{device}");

    let poll = [("grant_type", DEVICE_GRANT), ("device_code", device_code.as_str())];
    let (status, body) = token_request(&idp, &poll).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("authorization_pending")), "{body}");

    assert!(idp.approve_device("BCDF-GHJK", "sub-dev", json!({})).await.is_err(), "an unknown user code");
    let claims = json!({"groups": ["team-a"], "preferred_username": "dev", "amr": ["hwk"]});
    idp.approve_device(&user_code, "sub-dev", claims.clone()).await.expect("approve");
    assert!(idp.approve_device(&user_code, "sub-dev", json!({})).await.is_err(), "approved twice");

    let (status, tokens) = token_request(&idp, &poll).await;
    assert_eq!(status, 200, "{tokens}");
    let verified = verify(&idp, id_token(&tokens), &jwks(&idp).await).expect("the ID token verifies");
    assert_eq!(verified["sub"], "sub-dev");
    for claim in ["groups", "preferred_username", "amr"] {
        assert_eq!(verified[claim], claims[claim], "{claim} in {verified}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_session_accepts_a_registered_post_logout_uri() {
    let idp = start().await;
    let (_, tokens) = code_flow(&idp, "sub-logout", json!({})).await;
    let endpoint = discovery(&idp).await["end_session_endpoint"].as_str().expect("endpoint").to_owned();
    let ask = |uri: &'static str| {
        let mut url = Url::parse(&endpoint).expect("end session URL");
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token(&tokens))
            .append_pair("post_logout_redirect_uri", uri)
            .append_pair("state", "s1");
        async move { http().get(url).send().await.expect("end session answers") }
    };
    // The confirmation page (a form that submits itself in a browser).
    let response = ask(POST_LOGOUT_URI).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("the page");
    assert!(page.contains("<form") && page.contains("xsrf"), "{page}");
    // An unregistered one is refused.
    let response = ask("http://127.0.0.1:9/elsewhere").await;
    assert_eq!(response.status(), 400);
}

/// `TestIdp::browse` against a minimal relying party served here: it carries
/// the given cookie to our start URL, goes through the provider with its own
/// cookies, stops at our callback's answer and reports the URLs on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_goes_through_the_provider_and_stops_at_our_answer() {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback listener");
    let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("its address").port());
    let callback = format!("{base}/callback");
    let idp = TestIdp::start(vec![IdpClient {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![callback.clone()],
        post_logout_redirect_uris: vec![],
    }])
    .await
    .expect("the OpenID provider starts");
    let mut pending = authorization_request(&idp, "openid", true).await;
    pending.url = pending.url.replace(&urlencoded(REDIRECT_URI), &urlencoded(&callback));
    let authorize_url = pending.url.clone();

    let start = move |headers: HeaderMap| {
        let url = authorize_url.clone();
        async move {
            let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if cookie != "rp_pre=1" {
                return (StatusCode::BAD_REQUEST, format!("cookie {cookie:?}")).into_response();
            }
            (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
        }
    };
    let finish = |headers: HeaderMap| async move {
        // The provider's cookies stay with the provider.
        let cookie = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        (
            StatusCode::FOUND,
            [
                (header::LOCATION, "/done".to_owned()),
                (header::SET_COOKIE, format!("rp_session=ok; Path=/; sent={cookie}")),
            ],
        )
    };
    let router =
        axum::Router::new().route("/start", axum::routing::get(start)).route("/callback", axum::routing::get(finish));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the relying party serves") });

    idp.next_login("sub-browse", json!({})).await.expect("next-login");
    let answer = idp.browse(&format!("{base}/start"), Some("rp_pre=1")).await.expect("browse");
    assert_eq!(answer.status, 302, "{answer:?}");
    assert_eq!(answer.location.as_deref(), Some("/done"));
    assert_eq!(answer.cookie("rp_session").as_deref(), Some("ok"));
    assert!(answer.set_cookies[0].ends_with("sent=rp_pre=1"), "only our cookie came back to us: {answer:?}");
    assert!(answer.url.starts_with(&callback), "{answer:?}");
    assert_eq!(answer.callback_url.as_deref(), Some(answer.url.as_str()));
    assert!(answer.authorize_url.as_deref().is_some_and(|u| u.starts_with(&idp.issuer)), "{answer:?}");
    let params = query(&answer.url);
    assert_eq!(params.get("state"), Some(&pending.state));
    assert!(params.contains_key("code"), "{answer:?}");

    // Without a queued login the provider's refusal is an error, not an answer of ours.
    let error = idp.browse(&format!("{base}/start"), Some("rp_pre=1")).await.expect_err("no login queued");
    assert!(error.to_string().contains("no test login set"), "{error}");
}

fn urlencoded(value: &str) -> String {
    form_body(&[("v", value)])["v=".len()..].to_owned()
}
