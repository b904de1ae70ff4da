//! Security properties of authentication: forged tokens, the admin secret,
//! CSRF, disabled auth, concurrency, and no plaintext secret in any store.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, REGISTER_SECRET, TestApp, TestRequest};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_foreign_key_tokens_are_401() {
    let app = TestApp::start().await;
    let token = app.first_admin("admin").await;

    // Change the user id in the payload, keep the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
    claims["sub"] = json!("2");
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&tampered), None).await.assert_status(StatusCode::UNAUTHORIZED);

    // The same claims signed with another key.
    let other = TestApp::start().await;
    let foreign = other.first_admin("admin").await;
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&foreign), None).await.assert_status(StatusCode::UNAUTHORIZED);

    // An unsigned token ("alg": "none").
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{header}.{}.", parts[1]);
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&unsigned), None).await.assert_status(StatusCode::UNAUTHORIZED);

    // The genuine token still works.
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_secret_acts_as_the_system_admin_and_a_wrong_one_is_401() {
    let app = TestApp::start().await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::AdminSecret(ADMIN_SECRET), None).await;
    me.assert_status(StatusCode::OK);
    let body = me.json();
    assert_eq!(body["username"], "_system");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["auth_method"], "admin_secret");

    // It can create users, including the first admin.
    let created = app
        .call(
            Method::POST,
            "/api/auth/register",
            Auth::AdminSecret(ADMIN_SECRET),
            Some(&json!({"username": "ops", "password": PASSWORD, "role": "admin"})),
        )
        .await;
    created.assert_status(StatusCode::CREATED);

    // A wrong secret is 401, also on a public endpoint, never a fall-through.
    let wrong = app.call(Method::GET, "/api/auth/me", Auth::AdminSecret("wrong-secret"), None).await;
    wrong.assert_error(StatusCode::UNAUTHORIZED, "not_authenticated");
    let body = json!({"username": "x1234", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/register", Auth::AdminSecret("wrong-secret"), Some(&body))
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // The alias header works too.
    let alias = app.request(Method::GET, "/api/auth/me").header("x-admin-token", ADMIN_SECRET).send().await;
    alias.assert_status(StatusCode::OK);

    // Every use is audited; wrong ones once per address and minute (two
    // if the requests straddle a minute).
    let events = audit_events(&app).await;
    let uses: Vec<&Value> = events.iter().filter(|e| e["action"] == "admin_secret.use").collect();
    assert!(uses.iter().filter(|e| e["outcome"] == "success").count() >= 3, "{uses:?}");
    assert!((1..=2).contains(&uses.iter().filter(|e| e["outcome"] == "failure").count()), "{uses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_admin_secret_configured_the_header_is_refused() {
    let app = TestApp::builder().envs(&[("ADMIN_SECRET", "")]).build().await;
    app.call(Method::GET, "/api/auth/me", Auth::AdminSecret(ADMIN_SECRET), None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_cookie_writes_and_logins_are_refused() {
    let app = TestApp::start().await;
    let token = app.first_admin("admin").await;
    let cookie = format!("kohakuriver_session={token}");
    let post = |path: &str, headers: &[(&'static str, &str)]| {
        let request = app.request(Method::POST, path).header("host", "krv.example");
        headers.iter().fold(request, |request, (name, value)| request.header(*name, value))
    };

    let cross = post("/api/auth/logout", &[("cookie", &cookie), ("origin", "https://evil.example")]).send().await;
    cross.assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    let sibling = post("/api/auth/logout", &[("cookie", &cookie), ("sec-fetch-site", "same-site")]).send().await;
    sibling.assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    // Login CSRF: a cross-site page must not log the browser in.
    let login = json!({"username": "admin", "password": PASSWORD});
    post("/api/auth/login", &[("sec-fetch-site", "cross-site")])
        .json(&login)
        .send()
        .await
        .assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    // The session survived the refused logout.
    app.call(Method::GET, "/api/auth/me", Auth::Cookie(&token), None).await.assert_status(StatusCode::OK);

    // Same origin passes; so does a client that sends neither header (curl, the CLIs).
    let same_origin = post("/api/auth/login", &[("origin", "https://krv.example")]).json(&login).send().await;
    same_origin.assert_status(StatusCode::OK);
    post("/api/auth/logout", &[("cookie", &cookie)]).send().await.assert_status(StatusCode::OK);

    // Bearer requests are exempt.
    let fresh = app.login("admin").await;
    let bearer = post("/api/auth/logout", &[("origin", "https://evil.example")]).bearer(&fresh).send().await;
    bearer.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_may_send_cookie_writes() {
    let app = TestApp::builder().envs(&[("ALLOWED_ORIGINS", "https://panel.example")]).build().await;
    let token = app.first_admin("admin").await;
    logout(&app, "api.example", "https://panel.example", &token).send().await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_disabled_everyone_is_the_system_admin_and_auth_endpoints_are_503() {
    let app = TestApp::builder().envs(&[("AUTH_ENABLED", "false")]).build().await;
    let status = app.get("/api/auth/status").await.json();
    assert_eq!(status["auth_enabled"], false);
    assert_eq!(status["session_expire_hours"], Value::Null);
    let login = json!({"username": "admin", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&login))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "auth_disabled");
    let register = json!({"username": "admin", "password": PASSWORD, "register_secret": REGISTER_SECRET});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&register))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "auth_disabled");
    for path in ["/api/auth/me", "/api/auth/sessions"] {
        app.get(path).await.assert_error(StatusCode::SERVICE_UNAVAILABLE, "auth_disabled");
    }
    let change = json!({"current_password": "a", "new_password": "b"});
    app.call(Method::POST, "/api/auth/password", Auth::None, Some(&change))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "auth_disabled");
    app.call(Method::POST, "/api/auth/logout", Auth::None, None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_registrations_of_one_name_create_exactly_one_user() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let other = app.another_instance().await;
    let attempts = (0..20).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        let admin = admin.clone();
        async move {
            let body =
                json!({"username": format!("{}", if i % 3 == 0 { "Racer" } else { "racer" }), "password": PASSWORD});
            instance.call(Method::POST, "/api/auth/register", Auth::Bearer(&admin), Some(&body)).await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let conflicts = results.iter().filter(|r| r.status == StatusCode::CONFLICT).count();
    assert_eq!((created, conflicts), (1, 19), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
    for conflict in results.iter().filter(|r| r.status == StatusCode::CONFLICT) {
        assert_eq!(conflict.json()["code"], "username_taken");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_admin_registrations_create_exactly_one_admin() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let attempts = (0..10).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &other };
        async move {
            let body =
                json!({"username": format!("boss{i}"), "password": PASSWORD, "register_secret": REGISTER_SECRET});
            instance.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let refused = results.iter().filter(|r| r.status == StatusCode::FORBIDDEN).count();
    assert_eq!((created, refused), (1, 9), "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
}

/// Every audit event, read straight from the table.
async fn audit_events(app: &TestApp) -> Vec<Value> {
    app.scan(&app.state.stores.tables.audit).await.iter().map(item_json).collect()
}

/// A cookie-authenticated logout with the `Host` and `Origin` of the test's choosing.
fn logout<'a>(app: &'a TestApp, host: &str, origin: &str, token: &str) -> TestRequest<'a> {
    app.request(Method::POST, "/api/auth/logout")
        .header("host", host)
        .header("origin", origin)
        .auth(Auth::Cookie(token))
}

fn item_json(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let mut map = serde_json::Map::new();
    for (k, v) in item {
        let value = match v {
            A::S(s) => json!(s),
            A::N(n) => json!(n),
            A::Bool(b) => json!(b),
            other => json!(format!("{other:?}")),
        };
        map.insert(k.clone(), value);
    }
    Value::Object(map)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_store_holds_a_password_session_id_or_secret_in_plaintext() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "grace", "user").await;
    let grace = app.login("grace").await;
    app.call(Method::GET, "/api/auth/me", Auth::AdminSecret(ADMIN_SECRET), None).await.assert_status(StatusCode::OK);

    // Everything the stores hold, as text.
    let mut dump = String::new();
    for table in app.state.stores.tables.all() {
        for item in app.scan(table).await {
            dump.push_str(&format!("{item:?}\n"));
        }
    }
    let redis = &app.state.stores.redis;
    let mut keys_cmd = redis::cmd("KEYS");
    keys_cmd.arg("*");
    let keys: Vec<String> = redis.query(&keys_cmd).await.expect("KEYS");
    for key in &keys {
        dump.push_str(key);
        let mut dump_cmd = redis::cmd("DUMP");
        dump_cmd.arg(key);
        let raw: Vec<u8> = redis.query(&dump_cmd).await.expect("DUMP");
        dump.push_str(&String::from_utf8_lossy(&raw));
        dump.push('\n');
    }
    assert!(!keys.is_empty() && dump.len() > 500, "the dump should hold the data: {dump}");

    let mut secrets = BTreeSet::from([PASSWORD.to_owned(), REGISTER_SECRET.to_owned(), ADMIN_SECRET.to_owned()]);
    for token in [&admin, &grace] {
        secrets.insert(token.clone());
        let payload = token.split('.').nth(1).expect("payload");
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
        secrets.insert(claims["sid"].as_str().expect("sid").to_owned());
    }
    secrets.insert(
        app.state
            .config
            .session_signing_key
            .as_ref()
            .map(secrecy::ExposeSecret::expose_secret)
            .expect("key")
            .to_owned(),
    );
    for secret in &secrets {
        assert!(!dump.contains(secret.as_str()), "a store holds a secret in plaintext: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_registrations_and_logouts_are_audited_without_secrets() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let wrong = json!({"username": "admin", "password": "definitely-wrong"});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&wrong)).await.assert_status(StatusCode::UNAUTHORIZED);
    let token = app.login("admin").await;
    app.call(Method::POST, "/api/auth/logout", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);
    app.create_user(&admin, "heidi", "viewer").await;

    let events = audit_events(&app).await;
    let has = |action: &str, outcome: &str| events.iter().any(|e| e["action"] == action && e["outcome"] == outcome);
    assert!(has("user.register", "success"), "{events:?}");
    assert!(has("auth.login", "failure"));
    assert!(has("auth.login", "success"));
    assert!(has("auth.logout", "success"));
    assert!(has("user.create", "success"));
    for event in &events {
        for field in ["id", "at", "actor", "action", "outcome"] {
            assert!(event.get(field).is_some(), "{field} missing: {event}");
        }
        let text = event.to_string();
        assert!(!text.contains(PASSWORD) && !text.contains("definitely-wrong") && !text.contains(&token));
    }
    let failure = events.iter().find(|e| e["action"] == "auth.login" && e["outcome"] == "failure").expect("failure");
    assert_eq!(failure["reason"], "wrong_password");
    assert_eq!(failure["target"], "user:admin");
    assert_eq!(failure["client"], "127.0.0.1");
    assert!(failure["request_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_admin_secrets_are_audited_once_per_address_and_minute_and_right_ones_always() {
    let app = TestApp::start().await;
    let wrong = |ip: &'static str| {
        let app = &app;
        async move {
            app.call_from(Method::GET, "/api/auth/me", Auth::AdminSecret("wrong-secret"), None, ip)
                .await
                .assert_error(StatusCode::UNAUTHORIZED, "not_authenticated");
        }
    };
    // 50 wrong secrets from one address, at once; one from another address.
    futures::future::join_all((0..50).map(|_| wrong("10.0.0.7"))).await;
    wrong("10.0.0.8").await;
    for _ in 0..5 {
        app.call_from(Method::GET, "/api/auth/me", Auth::AdminSecret(ADMIN_SECRET), None, "10.0.0.7")
            .await
            .assert_status(StatusCode::OK);
    }

    let events = audit_events(&app).await;
    let uses = |ip: &str, outcome: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["action"] == "admin_secret.use" && e["client"] == ip && e["outcome"] == outcome)
            .collect()
    };
    let failures = uses("10.0.0.7", "failure");
    // One window, or two if the burst straddled a minute.
    assert!((1..=2).contains(&failures.len()), "{failures:?}");
    assert_eq!(failures[0]["reason"], "wrong_secret");
    assert!(failures[0]["detail"].as_str().is_some_and(|d| d.contains("counted, not audited")), "{failures:?}");
    assert_eq!(uses("10.0.0.8", "failure").len(), 1);
    assert_eq!(uses("10.0.0.7", "success").len(), 5, "every right secret is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_origin_may_not_write_with_a_secure_cookie() {
    // COOKIE_SECURE=true: the service's origin is https://<Host>.
    let app = TestApp::builder().envs(&[("COOKIE_SECURE", "true")]).build().await;
    let token = app.first_admin("admin").await;
    logout(&app, "krv.example", "http://krv.example", &token)
        .send()
        .await
        .assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    let login = json!({"username": "admin", "password": PASSWORD});
    let plain_login = app.request(Method::POST, "/api/auth/login").header("host", "krv.example");
    let plain_login = plain_login.header("origin", "http://krv.example").json(&login).send().await;
    plain_login.assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    logout(&app, "krv.example", "https://krv.example", &token).send().await.assert_status(StatusCode::OK);

    // PUBLIC_URL names the origin, whatever Host the proxy passes on.
    let app = TestApp::builder()
        .envs(&[("COOKIE_SECURE", "true"), ("PUBLIC_URL", "https://krv.example:8443/")])
        .build()
        .await;
    let token = app.first_admin("admin").await;
    let refused = logout(&app, "internal:8000", "https://internal:8000", &token).send().await;
    refused.assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    let refused = logout(&app, "krv.example:8443", "http://krv.example:8443", &token).send().await;
    refused.assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    logout(&app, "internal:8000", "https://krv.example:8443", &token).send().await.assert_status(StatusCode::OK);
}
