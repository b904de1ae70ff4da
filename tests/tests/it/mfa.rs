//! Second factors (SPEC §10): TOTP enrolment, login with a code or a
//! recovery code, single use under concurrency, the login throttle counting
//! wrong codes, the `mfa_token`'s life, encryption at rest, the enrolment
//! policy, the admin reset, and what stays unaffected (API tokens, the admin
//! secret).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use http::{Method, StatusCode};
use krv_tests::{ADMIN_SECRET, Auth, PASSWORD, SYSTEM, TestApp, TestResponse, TestUser};
use serde_json::{Value, json};
use shared::mfa::totp;

/// The key every test service encrypts TOTP secrets with.
const KEY: &str = "mfa-test-encryption-key-0123456789abcdef";
const HERE: &str = "127.0.0.1";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    TestApp::builder().env("MFA_ENCRYPTION_KEY", KEY).envs(extra).build().await
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

/// A time step with at least five seconds left in it (waiting for the next
/// one if needed), so codes for the step before it, it and the one after are
/// all accepted for the next moments: three unused codes to spend, oldest first.
async fn fresh_step() -> u64 {
    let left = totp::STEP_SECS - now_secs() % totp::STEP_SECS;
    if left < 5 {
        tokio::time::sleep(Duration::from_secs(left)).await;
    }
    totp::step_of(now_secs())
}

/// An enrolled authenticator app.
struct App {
    secret: Vec<u8>,
}

impl App {
    fn code(&self, step: u64) -> String {
        totp::code_for_step(&self.secret, step).expect("code")
    }
}

async fn call(app: &TestApp, method: Method, path: &str, auth: Auth<'_>, body: Value) -> TestResponse {
    app.call(method, path, auth, Some(&body)).await
}

/// Starts a TOTP enrolment for `user`; the app's secret.
async fn start_enrolment(app: &TestApp, user: &TestUser) -> App {
    let response = call(app, Method::POST, "/api/auth/mfa/totp", user.auth(), json!({"password": PASSWORD})).await;
    response.assert_status(StatusCode::OK);
    let body = response.json();
    let text = body["secret"].as_str().expect("secret");
    let uri = body["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with(&format!("otpauth://totp/KohakuRiver:{}?", user.name)), "{uri}");
    assert!(uri.contains(&format!("secret={text}")), "{uri}");
    assert!(body["qr_svg"].as_str().expect("svg").contains("<svg"));
    App { secret: totp::secret_from_base32(text).expect("base32 secret") }
}

/// Enrols and confirms TOTP for `user` with the code of `step`; the app and
/// the ten recovery codes.
async fn enrol(app: &TestApp, user: &TestUser, step: u64) -> (App, Vec<String>) {
    let authenticator = start_enrolment(app, user).await;
    let body = json!({"code": authenticator.code(step)});
    let response = call(app, Method::POST, "/api/auth/mfa/totp/confirm", user.auth(), body).await;
    response.assert_status(StatusCode::OK);
    let codes: Vec<String> = response.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (authenticator, codes)
}

/// A password login that must answer `mfa_required`; its token.
async fn challenge(app: &TestApp, name: &str) -> String {
    let response = app.login_attempt(name, PASSWORD, HERE).await;
    let body = response.assert_error(StatusCode::UNAUTHORIZED, "mfa_required");
    assert!(response.session_cookie().is_none(), "no session before the second factor");
    body["mfa_token"].as_str().expect("mfa_token").to_owned()
}

async fn second_step(app: &TestApp, body: Value) -> TestResponse {
    app.json(Method::POST, "/api/auth/login/mfa", &body).await
}

/// The audit actions recorded so far, in no particular order.
async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.scan(&app.state.stores.tables.audit)
        .await
        .iter()
        .filter_map(|i| i.get("action").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_confirm_and_log_in_with_a_code() {
    let app = app_with(&[]).await;
    let alice = app.with_user("alice", "user").await;
    let status = app.call(Method::GET, "/api/auth/mfa", alice.auth(), None).await;
    status.assert_status(StatusCode::OK);
    assert_eq!(status.json(), json!({"totp": false, "passkeys": [], "recovery_codes_left": 0, "required": false}));

    let wrong = call(&app, Method::POST, "/api/auth/mfa/totp", alice.auth(), json!({"password": "not-the-pass"})).await;
    wrong.assert_error(StatusCode::FORBIDDEN, "wrong_password");
    let step = fresh_step().await;
    let authenticator = start_enrolment(&app, &alice).await;
    // Pending: not a factor yet, the password alone still logs in.
    app.login(&alice.name).await;
    let status = app.call(Method::GET, "/api/auth/mfa", alice.auth(), None).await.json();
    assert_eq!(status["totp"], false);

    let confirm =
        |code: String| call(&app, Method::POST, "/api/auth/mfa/totp/confirm", alice.auth(), json!({"code": code}));
    confirm("12345".into()).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let wrong_code = if authenticator.code(step - 1) == "000000" { "111111" } else { "000000" };
    confirm(wrong_code.into()).await.assert_error(StatusCode::FORBIDDEN, "wrong_code");
    let confirmed = confirm(authenticator.code(step - 1)).await;
    confirmed.assert_status(StatusCode::OK);
    assert_eq!(confirmed.json()["recovery_codes"].as_array().expect("codes").len(), 10);
    let status = app.call(Method::GET, "/api/auth/mfa", alice.auth(), None).await.json();
    assert_eq!((status["totp"].clone(), status["recovery_codes_left"].clone()), (json!(true), json!(10)));

    let response = app.login_attempt(&alice.name, PASSWORD, HERE).await;
    let body = response.assert_error(StatusCode::UNAUTHORIZED, "mfa_required");
    assert_eq!(body["methods"], json!(["totp", "recovery"]));
    assert!(body["detail"].is_string());
    let token = body["mfa_token"].as_str().expect("token").to_owned();
    // The confirming code's step is spent: it cannot log in.
    second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step - 1)}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    let done = second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)})).await;
    done.assert_status(StatusCode::OK);
    assert_eq!(done.json()["user"]["username"], "alice");
    let session = done.session_token().expect("the session cookie");
    assert_eq!(app.me_status(&session).await, StatusCode::OK);
    // Used up: the token does not open a second session.
    second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step + 1)}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");

    let shown = app.call(Method::GET, &format!("/api/auth/users/{}", alice.id), SYSTEM, None).await.json();
    assert_eq!(shown["mfa"], json!({"totp": true, "passkeys": 0}));
    let again = call(&app, Method::POST, "/api/auth/mfa/totp", alice.auth(), json!({"password": PASSWORD})).await;
    again.assert_error(StatusCode::CONFLICT, "totp_enabled");
    let actions = audit_actions(&app).await;
    for action in ["mfa.totp_enrol", "mfa.totp_confirm", "auth.mfa_challenge"] {
        assert!(count(&actions, action) >= 1, "{action} audited: {actions:?}");
    }
    assert!(count(&actions, "mfa.totp_confirm") >= 2, "the wrong confirmation is audited too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_again_before_confirmation_replaces_the_secret() {
    let app = app_with(&[]).await;
    let lea = app.with_user("lea", "user").await;
    let step = fresh_step().await;
    let first = start_enrolment(&app, &lea).await;
    let second = start_enrolment(&app, &lea).await;
    assert_ne!(first.secret, second.secret);
    let confirm =
        |code: String| call(&app, Method::POST, "/api/auth/mfa/totp/confirm", lea.auth(), json!({"code": code}));
    if first.code(step - 1) != second.code(step - 1) {
        confirm(first.code(step - 1)).await.assert_error(StatusCode::FORBIDDEN, "wrong_code");
    }
    confirm(second.code(step - 1)).await.assert_status(StatusCode::OK);
    confirm(second.code(step)).await.assert_error(StatusCode::CONFLICT, "totp_enabled");
    let token = challenge(&app, "lea").await;
    second_step(&app, json!({"mfa_token": token, "code": second.code(step)})).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_log_in_in_one_step_with_otp() {
    let app = app_with(&[]).await;
    let bob = app.with_user("bob", "user").await;
    let step = fresh_step().await;
    let (authenticator, _) = enrol(&app, &bob, step - 1).await;
    let app = &app;
    let login = |otp: &str| {
        let body = json!({"username": "bob", "password": PASSWORD, "otp": otp});
        async move { app.json(Method::POST, "/api/auth/login", &body).await }
    };
    login("12 34").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let wrong = if authenticator.code(step) == "999999" { "888888" } else { "999999" };
    login(wrong).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    let code = authenticator.code(step);
    let done = login(&code).await;
    done.assert_status(StatusCode::OK);
    assert!(done.session_cookie().is_some());
    login(&code).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    // A wrong password with a right code is still a wrong password.
    let body = json!({"username": "bob", "password": "wrong-password-1", "otp": authenticator.code(step + 1)});
    let response = app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await;
    response.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

/// One code, many logins at once: exactly one session, whichever way the
/// code comes (the second step, or `otp` in one step).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_logs_in_once_even_under_concurrent_logins() {
    let app = app_with(&[("LOGIN_FREE_FAILURES", "1000"), ("LOGIN_LOCKOUT_FAILURES", "1000")]).await;
    let carol = app.with_user("carol", "user").await;
    let step = fresh_step().await;
    let (authenticator, _) = enrol(&app, &carol, step - 1).await;
    const LOGINS: usize = 12;

    let mut tokens = Vec::new();
    for _ in 0..LOGINS {
        tokens.push(challenge(&app, "carol").await);
    }
    let code = authenticator.code(step);
    let attempts = tokens.iter().map(|t| second_step(&app, json!({"mfa_token": t, "code": code})));
    let answers = futures::future::join_all(attempts).await;
    let ok = answers.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = answers.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
    assert_eq!((ok, refused), (1, LOGINS - 1), "one session for one code");

    let code = authenticator.code(step + 1);
    let body = json!({"username": "carol", "password": PASSWORD, "otp": code});
    let attempts = (0..LOGINS).map(|_| app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)));
    let answers = futures::future::join_all(attempts).await;
    let ok = answers.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = answers.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
    assert_eq!((ok, refused), (1, LOGINS - 1), "one session for one code in one-step logins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_in_the_login_throttle_and_the_right_password_resets_nothing() {
    let app =
        app_with(&[("LOGIN_FREE_FAILURES", "100"), ("LOGIN_LOCKOUT_FAILURES", "3"), ("LOGIN_LOCKOUT_SECS", "60")])
            .await;
    let dave = app.with_user("dave", "user").await;
    let step = fresh_step().await;
    let (authenticator, _) = enrol(&app, &dave, step - 1).await;
    let wrong = if authenticator.code(step) == "123456" { "654321" } else { "123456" };

    let token = challenge(&app, "dave").await;
    for _ in 0..2 {
        second_step(&app, json!({"mfa_token": token, "code": wrong}))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    }
    // The right password again: a new token, and the two failures still count.
    let token = challenge(&app, "dave").await;
    second_step(&app, json!({"mfa_token": token, "code": wrong}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    // Three failures: locked, for the right code and the right password alike.
    let locked = second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)})).await;
    locked.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    assert!(locked.header("retry-after").is_some());
    app.login_attempt("dave", PASSWORD, HERE).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    let failures = app
        .scan(&app.state.stores.tables.audit)
        .await
        .iter()
        .filter(|i| i.get("reason").and_then(|v| v.as_s().ok()).is_some_and(|r| r == "wrong_second_factor"))
        .count();
    assert_eq!(failures, 3, "every wrong code is audited");
}

/// A burst of guesses at once is bounded like a burst of passwords: no more
/// codes are checked than the lockout allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_of_wrong_codes_is_bounded_by_the_lockout() {
    const LOCKOUT: usize = 4;
    const BURST: usize = 30;
    let app =
        app_with(&[("LOGIN_FREE_FAILURES", "100"), ("LOGIN_LOCKOUT_FAILURES", "4"), ("LOGIN_LOCKOUT_SECS", "60")])
            .await;
    let erin = app.with_user("erin", "user").await;
    let step = fresh_step().await;
    let (authenticator, _) = enrol(&app, &erin, step - 1).await;
    let token = challenge(&app, "erin").await;
    let guesses: Vec<String> = (0..BURST)
        .map(|i| format!("{:06}", (i * 7919) % 1_000_000))
        .filter(|g| *g != authenticator.code(step) && *g != authenticator.code(step + 1))
        .collect();
    let attempts = guesses.iter().map(|g| second_step(&app, json!({"mfa_token": token, "code": g})));
    let answers = futures::future::join_all(attempts).await;
    let checked = answers.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
    let throttled = answers.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(checked + throttled, guesses.len(), "only 401 and 429");
    assert!((1..=LOCKOUT).contains(&checked), "{checked} codes checked in a burst, lockout {LOCKOUT}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_works_once_even_under_concurrent_use() {
    let app = app_with(&[("LOGIN_FREE_FAILURES", "1000"), ("LOGIN_LOCKOUT_FAILURES", "1000")]).await;
    let fay = app.with_user("fay", "user").await;
    let step = fresh_step().await;
    let (_, codes) = enrol(&app, &fay, step - 1).await;

    let token = challenge(&app, "fay").await;
    // Typed sloppily: upper case, spaces for dashes.
    let typed = codes[0].to_uppercase().replace('-', " ");
    second_step(&app, json!({"mfa_token": token, "recovery_code": typed})).await.assert_status(StatusCode::OK);
    let status = app.call(Method::GET, "/api/auth/mfa", fay.auth(), None).await.json();
    assert_eq!(status["recovery_codes_left"], 9);
    let token = challenge(&app, "fay").await;
    second_step(&app, json!({"mfa_token": token, "recovery_code": codes[0]}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");

    for (round, code) in codes.iter().enumerate().take(4).skip(1) {
        let mut tokens = Vec::new();
        for _ in 0..10 {
            tokens.push(challenge(&app, "fay").await);
        }
        let attempts = tokens.iter().map(|t| second_step(&app, json!({"mfa_token": t, "recovery_code": code})));
        let answers = futures::future::join_all(attempts).await;
        let ok = answers.iter().filter(|r| r.status == StatusCode::OK).count();
        let refused = answers.iter().filter(|r| r.status == StatusCode::UNAUTHORIZED).count();
        assert_eq!((ok, refused), (1, 9), "round {round}: one code, one login");
    }
    let status = app.call(Method::GET, "/api/auth/mfa", fay.auth(), None).await.json();
    assert_eq!(status["recovery_codes_left"], 6);
    assert_eq!(count(&audit_actions(&app).await, "mfa.recovery_use"), 4, "every use audited, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_recovery_codes_retire_the_old_ones() {
    let app = app_with(&[]).await;
    let gus = app.with_user("gus", "user").await;
    let step = fresh_step().await;
    let (authenticator, old) = enrol(&app, &gus, step - 1).await;
    let regenerate = |body: Value| call(&app, Method::POST, "/api/auth/mfa/recovery-codes", gus.auth(), body);
    regenerate(json!({})).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    regenerate(json!({"password": PASSWORD, "code": "123456"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    regenerate(json!({"password": "wrong-password-1"})).await.assert_error(StatusCode::FORBIDDEN, "wrong_password");
    let by_password = regenerate(json!({"password": PASSWORD})).await;
    by_password.assert_status(StatusCode::OK);
    let by_code = regenerate(json!({"code": authenticator.code(step)})).await;
    by_code.assert_status(StatusCode::OK);
    let new: Vec<String> = by_code.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    let first_new = by_password.json()["recovery_codes"][0].as_str().expect("code").to_owned();
    for retired in [&old[0], &first_new] {
        let token = challenge(&app, "gus").await;
        second_step(&app, json!({"mfa_token": token, "recovery_code": retired}))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    }
    let token = challenge(&app, "gus").await;
    second_step(&app, json!({"mfa_token": token, "recovery_code": new[3]})).await.assert_status(StatusCode::OK);
    assert!(count(&audit_actions(&app).await, "mfa.recovery_regenerate") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mfa_token_expires_and_dies_with_a_password_reset_or_deactivation() {
    let app = app_with(&[]).await;
    let hal = app.with_user("hal", "user").await;
    let step = fresh_step().await;
    let (authenticator, codes) = enrol(&app, &hal, step - 1).await;

    // Expiry: the token's Redis entry runs out (its TTL is five minutes).
    let token = challenge(&app, "hal").await;
    let redis = &app.state.stores.redis;
    let key = shared::mfa::challenge::key(redis, &token).expect("a token's key");
    let ttl: i64 = redis.query(redis::cmd("TTL").arg(&key)).await.expect("ttl");
    assert!((290..=300).contains(&ttl), "TTL {ttl}");
    let _: i64 = redis.query(redis::cmd("PEXPIRE").arg(&key).arg(1)).await.expect("expire");
    tokio::time::sleep(Duration::from_millis(20)).await;
    second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    // Only its hash names the entry, never the token.
    assert!(!key.contains(&token) && !key.contains(token.split_once('.').expect("id.random").1));

    // A password reset after the password step ends the login.
    let token = challenge(&app, "hal").await;
    let reset = json!({"password": PASSWORD});
    app.call(Method::POST, &format!("/api/auth/users/{}/password", hal.id), SYSTEM, Some(&reset))
        .await
        .assert_status(StatusCode::OK);
    second_step(&app, json!({"mfa_token": token, "recovery_code": codes[0]}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");

    // So does a deactivation.
    let token = challenge(&app, "hal").await;
    let path = format!("/api/auth/users/{}", hal.id);
    app.call(Method::PATCH, &path, SYSTEM, Some(&json!({"is_active": false}))).await.assert_status(StatusCode::OK);
    second_step(&app, json!({"mfa_token": token, "recovery_code": codes[0]}))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    // Malformed and made-up tokens alike.
    for made_up in ["nope", "1.abc", &format!("{}.{}", hal.id, "A".repeat(43))] {
        second_step(&app, json!({"mfa_token": made_up, "recovery_code": codes[0]}))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_is_removed_with_the_password_or_a_code() {
    let app = app_with(&[]).await;
    let ida = app.with_user("ida", "user").await;
    let step = fresh_step().await;
    let (authenticator, _) = enrol(&app, &ida, step - 1).await;
    let remove = |body: Value| call(&app, Method::DELETE, "/api/auth/mfa/totp", ida.auth(), body);
    remove(json!({})).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    remove(json!({"code": "abcdef"})).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let wrong = if authenticator.code(step) == "000001" { "000002" } else { "000001" };
    remove(json!({"code": wrong})).await.assert_error(StatusCode::FORBIDDEN, "wrong_code");
    remove(json!({"code": authenticator.code(step)})).await.assert_status(StatusCode::OK);
    let status = app.call(Method::GET, "/api/auth/mfa", ida.auth(), None).await.json();
    assert_eq!((status["totp"].clone(), status["recovery_codes_left"].clone()), (json!(false), json!(0)));
    app.login("ida").await;
    remove(json!({"password": PASSWORD})).await.assert_error(StatusCode::CONFLICT, "totp_not_enabled");

    let step = fresh_step().await;
    enrol(&app, &ida, step - 1).await;
    challenge(&app, "ida").await;
    remove(json!({"password": PASSWORD})).await.assert_status(StatusCode::OK);
    app.login("ida").await;
    let shown = app.call(Method::GET, &format!("/api/auth/users/{}", ida.id), SYSTEM, None).await.json();
    assert_eq!(shown["mfa"]["totp"], false);
    assert!(count(&audit_actions(&app).await, "mfa.totp_remove") >= 2);
}

/// The secret is stored sealed: the raw item holds neither the base32 text
/// nor the secret's bytes, the recovery item no code, and a service with
/// another key cannot open it (503, not a wrong answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_encrypted_at_rest_and_codes_hashed() {
    let app = app_with(&[]).await;
    let jo = app.with_user("joy", "user").await;
    let step = fresh_step().await;
    let (authenticator, codes) = enrol(&app, &jo, step - 1).await;
    let base32 = totp::base32(&authenticator.secret);
    let partition = format!("USER#{}", jo.id);
    let items: Vec<_> = app
        .scan(&app.state.stores.tables.identity)
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| *p == partition))
        .collect();
    let factor = |sk: &str| {
        items.iter().find(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s == sk)).expect("factor item")
    };
    let totp_item = factor("MFA#TOTP");
    let Some(AttributeValue::B(sealed)) = totp_item.get("secret") else { panic!("the secret is binary") };
    let sealed = sealed.as_ref();
    assert!(!sealed.windows(authenticator.secret.len()).any(|w| w == authenticator.secret.as_slice()));
    assert!(!sealed.windows(base32.len()).any(|w| w == base32.as_bytes()));
    for item in &items {
        let text = format!("{item:?}");
        assert!(!text.contains(&base32) && !text.contains(&base32.to_lowercase()), "plaintext secret in {text}");
        for code in &codes {
            assert!(!text.contains(code.as_str()) && !text.contains(&code.replace('-', "")), "plaintext recovery code");
        }
    }
    let hashes = factor("MFA#RECOVERY").get("hashes").and_then(|v| v.as_ss().ok()).expect("hashes");
    assert_eq!(hashes.len(), 10);

    let other = app.another_instance_with(&[("MFA_ENCRYPTION_KEY", "another-key-entirely-0123456789abcdefgh")]).await;
    let token = challenge(&other, "joy").await;
    let response = second_step(&other, json!({"mfa_token": token, "code": authenticator.code(step)})).await;
    response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "mfa_key_mismatch");
    // The step was not spent: the right key's instance takes the same code.
    second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)}))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_encryption_key_totp_answers_503() {
    let app = TestApp::start().await;
    let kim = app.with_user("kim", "user").await;
    let response = call(&app, Method::POST, "/api/auth/mfa/totp", kim.auth(), json!({"password": PASSWORD})).await;
    let body = response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "mfa_not_configured");
    assert!(body["detail"].as_str().expect("detail").contains("MFA_ENCRYPTION_KEY"));
    // Enrolled where the key is set, a login here stops at the code.
    let keyed = app.another_instance_with(&[("MFA_ENCRYPTION_KEY", KEY)]).await;
    let step = fresh_step().await;
    let (authenticator, codes) = enrol(&keyed, &kim, step - 1).await;
    let token = challenge(&app, "kim").await;
    second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)}))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "mfa_not_configured");
    // Recovery codes need no key.
    second_step(&app, json!({"mfa_token": token, "recovery_code": codes[0]})).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_role_without_a_factor_reaches_only_me_and_enrolment_until_it_enrols() {
    let app = app_with(&[("MFA_REQUIRED_ROLE", "operator")]).await;
    let olga = app.with_user("olga", "operator").await;
    let ulf = app.with_user("ulf", "user").await;

    let me = app.call(Method::GET, "/api/auth/me", olga.auth(), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["mfa_enrollment_required"], true);
    for (method, path) in [
        (Method::GET, "/api/tasks"),
        (Method::GET, "/api/auth/users"),
        (Method::GET, "/api/auth/sessions"),
        (Method::GET, "/api/auth/tokens"),
        (Method::GET, "/api/vps"),
    ] {
        let response = app.call(method.clone(), path, olga.auth(), None).await;
        let body = response.assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");
        assert!(body["detail"].is_string(), "{method} {path}");
    }
    let token = call(&app, Method::POST, "/api/auth/tokens", olga.auth(), json!({"name": "sneaky"})).await;
    token.assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");
    let status = app.call(Method::GET, "/api/auth/mfa", olga.auth(), None).await;
    status.assert_status(StatusCode::OK);
    assert_eq!(status.json()["required"], true);
    // Below the required role: unaffected.
    app.call(Method::GET, "/api/tasks", ulf.auth(), None).await.assert_status(StatusCode::OK);
    let me = app.call(Method::GET, "/api/auth/me", ulf.auth(), None).await.json();
    assert_eq!(me["mfa_enrollment_required"], false);
    // The admin secret is unaffected too.
    app.call(Method::GET, "/api/auth/users", SYSTEM, None).await.assert_status(StatusCode::OK);

    // Enrolling lifts the restriction on the same session at once.
    let step = fresh_step().await;
    enrol(&app, &olga, step - 1).await;
    app.call(Method::GET, "/api/tasks", olga.auth(), None).await.assert_status(StatusCode::OK);
    let me = app.call(Method::GET, "/api/auth/me", olga.auth(), None).await.json();
    assert_eq!(me["mfa_enrollment_required"], false);
    // Removing the factor brings it back at once.
    call(&app, Method::DELETE, "/api/auth/mfa/totp", olga.auth(), json!({"password": PASSWORD}))
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::GET, "/api/tasks", olga.auth(), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");
    // Logout stays open.
    app.call(Method::POST, "/api/auth/logout", olga.auth(), None).await.assert_status(StatusCode::OK);
    assert_eq!(app.me_status(&olga.token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_without_a_factor_cannot_create_users_under_the_policy() {
    let app = app_with(&[("MFA_REQUIRED_ROLE", "admin")]).await;
    let admin = app.with_admin().await;
    let body = json!({"username": "newbie", "password": PASSWORD, "role": "user"});
    let response = app.call(Method::POST, "/api/auth/register", admin.auth(), Some(&body)).await;
    response.assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");
    let step = fresh_step().await;
    enrol(&app, &admin, step - 1).await;
    let response = app.call(Method::POST, "/api/auth/register", admin.auth(), Some(&body)).await;
    response.assert_status(StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_into_the_required_role_ends_the_users_sessions() {
    let app = app_with(&[("MFA_REQUIRED_ROLE", "operator")]).await;
    let pat = app.with_user("pat", "viewer").await;
    let (api_token, _) = app.create_token(&pat.token, "script").await;
    // A promotion that stays below the required role keeps the session.
    app.set_role(SYSTEM, pat.id, "user").await.assert_status(StatusCode::OK);
    assert_eq!(app.me_status(&pat.token).await, StatusCode::OK);
    app.set_role(SYSTEM, pat.id, "operator").await.assert_status(StatusCode::OK);
    assert_eq!(app.me_status(&pat.token).await, StatusCode::UNAUTHORIZED, "the session ended with the promotion");
    // API tokens are not sessions: unaffected, and not restricted.
    app.call(Method::GET, "/api/tasks", Auth::Bearer(&api_token), None).await.assert_status(StatusCode::OK);
    // A new session is restricted until a factor is enrolled.
    let session = app.login("pat").await;
    app.call(Method::GET, "/api/tasks", Auth::Bearer(&session), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "mfa_enrollment_required");

    // With a factor, a promotion still ends sessions opened under the lighter rule.
    let quin = app.with_user("quin", "user").await;
    let step = fresh_step().await;
    enrol(&app, &quin, step - 1).await;
    app.set_role(SYSTEM, quin.id, "admin").await.assert_status(StatusCode::OK);
    assert_eq!(app.me_status(&quin.token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reset_removes_every_factor_and_ends_the_sessions() {
    let app = app_with(&[]).await;
    let admin = app.with_admin().await;
    let rex = app.with_user("rex", "user").await;
    let step = fresh_step().await;
    let (authenticator, codes) = enrol(&app, &rex, step - 1).await;
    let token = challenge(&app, "rex").await;
    let done = second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)})).await;
    let session = done.session_token().expect("session");
    let (api_token, _) = app.create_token(&session, "script").await;
    // A passkey, as the passkey endpoints store one (its item and the count).
    let stores = &app.state.stores;
    stores
        .dynamo
        .put_item()
        .table_name(&stores.tables.identity)
        .item("pk", AttributeValue::S(format!("USER#{}", rex.id)))
        .item("sk", AttributeValue::S("MFA#PASSKEY#cred-1".into()))
        .item("name", AttributeValue::S("yubikey".into()))
        .item("created_at_ms", AttributeValue::N("1700000000000".into()))
        .send()
        .await
        .expect("put passkey");
    stores
        .dynamo
        .update_item()
        .table_name(&stores.tables.identity)
        .key("pk", AttributeValue::S(format!("USER#{}", rex.id)))
        .key("sk", AttributeValue::S("USER".into()))
        .update_expression("SET mfa_passkeys = :one ADD version :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("count passkey");
    let status = app.call(Method::GET, "/api/auth/mfa", Auth::Bearer(&session), None).await.json();
    assert_eq!(status["passkeys"][0]["id"], "cred-1");
    assert_eq!(status["passkeys"][0]["name"], "yubikey");
    assert_eq!(status["passkeys"][0]["created_at"], "2023-11-14T22:13:20Z");

    let path = format!("/api/auth/users/{}/mfa", rex.id);
    app.call(Method::DELETE, &path, rex.auth(), None).await.assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    app.call(Method::DELETE, "/api/auth/users/999999/mfa", admin.auth(), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let reset = app.call(Method::DELETE, &path, admin.auth(), None).await;
    reset.assert_status(StatusCode::OK);
    assert_eq!(reset.json()["factors_removed"], 3, "TOTP, the recovery codes, the passkey");
    assert!(reset.json()["sessions_ended"].as_u64().expect("count") >= 2);
    assert_eq!(app.me_status(&session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&rex.token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&api_token).await, StatusCode::OK, "API tokens are not sessions");
    let shown = app.call(Method::GET, &format!("/api/auth/users/{}", rex.id), admin.auth(), None).await.json();
    assert_eq!(shown["mfa"], json!({"totp": false, "passkeys": 0}));
    let left: Vec<_> = app
        .scan(&stores.tables.identity)
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| *p == format!("USER#{}", rex.id)))
        .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s.starts_with("MFA#")))
        .collect();
    assert!(left.is_empty(), "factor items left: {left:?}");
    // The password alone logs in again, and the old recovery codes are gone.
    let session = app.login("rex").await;
    let status = app.call(Method::GET, "/api/auth/mfa", Auth::Bearer(&session), None).await.json();
    assert_eq!(status, json!({"totp": false, "passkeys": [], "recovery_codes_left": 0, "required": false}));
    assert!(!codes.is_empty());
    assert_eq!(count(&audit_actions(&app).await, "mfa.reset"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_and_the_admin_secret_need_no_second_factor() {
    let app = app_with(&[("MFA_REQUIRED_ROLE", "viewer")]).await;
    let sue = app.with_user("sue", "user").await;
    let step = fresh_step().await;
    enrol(&app, &sue, step - 1).await;
    let (api_token, _) = app.create_token(&sue.token, "ci").await;
    challenge(&app, "sue").await;
    // The token acts without a code.
    app.call(Method::GET, "/api/tasks", Auth::Bearer(&api_token), None).await.assert_status(StatusCode::OK);
    assert_eq!(app.me_status(&api_token).await, StatusCode::OK);
    app.call(Method::GET, "/api/auth/users", Auth::AdminSecret(ADMIN_SECRET), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_answers_4xx_with_a_detail() {
    let app = app_with(&[]).await;
    let tom = app.with_user("tom", "user").await;
    let step = fresh_step().await;
    let (authenticator, _) = enrol(&app, &tom, step - 1).await;
    let token = challenge(&app, "tom").await;
    for body in [
        json!({}),
        json!({"code": "123456"}),
        json!({"mfa_token": token}),
        json!({"mfa_token": token, "code": "123456", "recovery_code": "aaaa-bbbb-cccc-dddd"}),
        json!({"mfa_token": token, "code": "12345x"}),
        json!({"mfa_token": token, "code": 123456}),
        json!({"mfa_token": token, "recovery_code": "short"}),
    ] {
        let response = second_step(&app, body.clone()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", response.text());
        assert!(response.json()["detail"].is_string());
    }
    // None of those spent the token.
    second_step(&app, json!({"mfa_token": token, "code": authenticator.code(step)}))
        .await
        .assert_status(StatusCode::OK);

    for (method, path, body) in [
        (Method::POST, "/api/auth/mfa/totp", json!({})),
        (Method::POST, "/api/auth/mfa/totp/confirm", json!({})),
        (Method::POST, "/api/auth/mfa/totp/confirm", json!({"code": "one two"})),
        (Method::DELETE, "/api/auth/mfa/totp", json!({"code": 5})),
    ] {
        let response = call(&app, method.clone(), path, tom.auth(), body.clone()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {body}: {}", response.text());
        assert!(response.json()["detail"].is_string());
    }
    let response = app.request(Method::POST, "/api/auth/login/mfa").body("application/json", "{not json").send().await;
    response.assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    // Anonymous callers cannot reach the self-service endpoints.
    app.call(Method::GET, "/api/auth/mfa", Auth::None, None).await.assert_status(StatusCode::UNAUTHORIZED);
    // The system admin has no account to enrol.
    app.call(Method::GET, "/api/auth/mfa", SYSTEM, None).await.assert_error(StatusCode::FORBIDDEN, "no_account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_user_deletes_their_factors() {
    let app = app_with(&[]).await;
    let val = app.with_user("val", "user").await;
    let step = fresh_step().await;
    enrol(&app, &val, step - 1).await;
    app.call(Method::DELETE, &format!("/api/auth/users/{}", val.id), SYSTEM, None).await.assert_status(StatusCode::OK);
    let partition = format!("USER#{}", val.id);
    let left = app
        .scan(&app.state.stores.tables.identity)
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|p| *p == partition))
        .count();
    assert_eq!(left, 0);
}

/// An admin reset racing the confirmation of an enrolment ends as one of
/// the two orders: never a factor item the summary does not count, nor a
/// summary naming a factor that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_racing_a_confirmation_leaves_the_summary_true_to_the_items() {
    let app = app_with(&[]).await;
    let stores = &app.state.stores;
    let mut orders = (0, 0);
    for trial in 0..12 {
        let user = app.with_user(&format!("racer{trial}"), "user").await;
        let step = fresh_step().await;
        let authenticator = start_enrolment(&app, &user).await;
        let confirm = call(
            &app,
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            user.auth(),
            json!({"code": authenticator.code(step)}),
        );
        let path = format!("/api/auth/users/{}/mfa", user.id);
        let reset = app.call(Method::DELETE, &path, SYSTEM, None);
        let (confirmed, reset) = tokio::join!(confirm, reset);
        reset.assert_status(StatusCode::OK);
        assert!(
            confirmed.status == StatusCode::OK || confirmed.status == StatusCode::CONFLICT,
            "trial {trial}: {} {}",
            confirmed.status,
            confirmed.text()
        );
        let shown = app.call(Method::GET, &format!("/api/auth/users/{}", user.id), SYSTEM, None).await.json();
        let item = |sk: &'static str| {
            stores
                .dynamo
                .get_item()
                .table_name(&stores.tables.identity)
                .key("pk", AttributeValue::S(format!("USER#{}", user.id)))
                .key("sk", AttributeValue::S(sk.into()))
                .consistent_read(true)
                .send()
        };
        let totp_item = item("MFA#TOTP").await.expect("read").item().cloned();
        let recovery_item = item("MFA#RECOVERY").await.expect("read").item().cloned();
        let enabled = totp_item.as_ref().is_some_and(|i| i.get("confirmed") == Some(&AttributeValue::Bool(true)));
        assert_eq!(shown["mfa"]["totp"], enabled, "trial {trial}: the summary names exactly the items");
        assert_eq!(recovery_item.is_some(), enabled, "trial {trial}: recovery codes only with TOTP");
        if enabled {
            orders.0 += 1;
            assert_eq!(confirmed.status, StatusCode::OK, "trial {trial}: enabled, so the confirmation came last");
        } else {
            orders.1 += 1;
        }
    }
    assert_eq!(orders.0 + orders.1, 12);
}
