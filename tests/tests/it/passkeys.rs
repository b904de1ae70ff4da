//! Passkeys (SPEC §10) against the real stores, driven by a software
//! authenticator (below): a P-256 key per credential, "none" attestation,
//! real ECDSA signatures over real authenticator data, so webauthn-rs checks
//! everything it checks for a browser. The browser's own authenticator is
//! exercised by web/tests/passkeys.test.mjs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::{Method, StatusCode};
use krv_tests::{Auth, SYSTEM, TestApp, TestUser};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, SigningKey as _};
use serde_json::{Value, json};

/// The relying party every app here is configured with.
const ORIGIN: &str = "http://localhost";
const RP_ID: &str = "localhost";

const REGISTER_START: &str = "/api/auth/mfa/webauthn/register/start";
const REGISTER_FINISH: &str = "/api/auth/mfa/webauthn/register/finish";
const LOGIN_START: &str = "/api/auth/login/passkey/start";
const LOGIN_FINISH: &str = "/api/auth/login/passkey/finish";

async fn app() -> TestApp {
    TestApp::builder().env("PUBLIC_URL", ORIGIN).build().await
}

// ---- a software authenticator ----

fn sha256(data: &[u8]) -> Vec<u8> {
    let hex = shared::crypto::sha256_hex(std::str::from_utf8(data).expect("hashed text is UTF-8"));
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}

/// A CBOR head: major type and length (RFC 8949 §3).
fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | u8::try_from(len).expect("small")),
        24..=0xff => out.extend([m | 24, u8::try_from(len).expect("byte")]),
        _ => {
            out.push(m | 25);
            out.extend(u16::try_from(len).expect("short").to_be_bytes());
        }
    }
}

enum Cbor<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Map(Vec<(Cbor<'a>, Cbor<'a>)>),
}

fn cbor(value: &Cbor<'_>, out: &mut Vec<u8>) {
    match value {
        Cbor::Int(i) if *i >= 0 => cbor_head(out, 0, i.unsigned_abs()),
        Cbor::Int(i) => cbor_head(out, 1, i.unsigned_abs() - 1),
        Cbor::Bytes(b) => {
            cbor_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Cbor::Text(t) => {
            cbor_head(out, 3, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Cbor::Map(entries) => {
            cbor_head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                cbor(k, out);
                cbor(v, out);
            }
        }
    }
}

/// One credential the authenticator holds.
struct SoftKey {
    key: KeyPair,
    id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

impl SoftKey {
    fn id(&self) -> String {
        B64.encode(&self.id)
    }
}

/// Flags of authenticator data: user present, user verified, attested data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

fn b64(value: &Value) -> Vec<u8> {
    B64.decode(value.as_str().expect("base64url string")).expect("base64url")
}

fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
    let challenge = options["publicKey"]["challenge"].as_str().expect("challenge");
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}).to_string().into_bytes()
}

/// `navigator.credentials.create` on creation options: a new credential
/// and the browser's answer for it (as JSON, binary in base64url).
fn create(options: &Value, origin: &str, flags: u8) -> (SoftKey, Value) {
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], RP_ID);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let point = key.public_key_raw();
    assert_eq!(point.len(), 65, "an uncompressed point");
    let id: Vec<u8> = uuid::Uuid::new_v4().as_bytes().to_vec();
    let mut cose = Vec::new();
    cbor(
        &Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(3), Cbor::Int(-7)),
            (Cbor::Int(-1), Cbor::Int(1)),
            (Cbor::Int(-2), Cbor::Bytes(&point[1..33])),
            (Cbor::Int(-3), Cbor::Bytes(&point[33..65])),
        ]),
        &mut cose,
    );
    let mut auth_data = sha256(RP_ID.as_bytes());
    auth_data.push(flags | AT);
    auth_data.extend(0u32.to_be_bytes());
    auth_data.extend([0u8; 16]);
    auth_data.extend(u16::try_from(id.len()).expect("short id").to_be_bytes());
    auth_data.extend(&id);
    auth_data.extend(&cose);
    let mut attestation = Vec::new();
    cbor(
        &Cbor::Map(vec![
            (Cbor::Text("fmt"), Cbor::Text("none")),
            (Cbor::Text("attStmt"), Cbor::Map(vec![])),
            (Cbor::Text("authData"), Cbor::Bytes(&auth_data)),
        ]),
        &mut attestation,
    );
    let client = client_data("webauthn.create", options, origin);
    let answer = json!({
        "id": B64.encode(&id),
        "rawId": B64.encode(&id),
        "type": "public-key",
        "response": {"attestationObject": B64.encode(&attestation), "clientDataJSON": B64.encode(&client)},
        "extensions": {},
    });
    let user_handle = b64(&public_key["user"]["id"]);
    (SoftKey { key, id, user_handle, counter: 0 }, answer)
}

/// `navigator.credentials.get` with `key` on request options.
fn get(key: &mut SoftKey, options: &Value, origin: &str, flags: u8) -> Value {
    key.counter += 1;
    let mut auth_data = sha256(RP_ID.as_bytes());
    auth_data.push(flags);
    auth_data.extend(key.counter.to_be_bytes());
    let client = client_data("webauthn.get", options, origin);
    let mut signed = auth_data.clone();
    signed.extend(sha256(&client));
    let signature = key.key.sign(&signed).expect("ECDSA signature");
    json!({
        "id": key.id(),
        "rawId": key.id(),
        "type": "public-key",
        "response": {
            "authenticatorData": B64.encode(&auth_data),
            "clientDataJSON": B64.encode(&client),
            "signature": B64.encode(&signature),
            "userHandle": B64.encode(&key.user_handle),
        },
        "extensions": {},
    })
}

// ---- the API, step by step ----

async fn start_registration(app: &TestApp, user: &TestUser) -> (String, Value) {
    let started = app.call(Method::POST, REGISTER_START, user.auth(), None).await;
    started.assert_status(StatusCode::OK);
    let body = started.json();
    (body["ceremony_id"].as_str().expect("ceremony id").to_owned(), body["options"].clone())
}

async fn finish_registration(app: &TestApp, user: &TestUser, ceremony: &str, name: &str, credential: &Value) -> Value {
    let body = json!({"ceremony_id": ceremony, "name": name, "credential": credential});
    let finished = app.call(Method::POST, REGISTER_FINISH, user.auth(), Some(&body)).await;
    finished.assert_status(StatusCode::OK);
    finished.json()
}

/// Registers a passkey named `name` for `user`.
async fn register(app: &TestApp, user: &TestUser, name: &str) -> SoftKey {
    let (ceremony, options) = start_registration(app, user).await;
    let (key, answer) = create(&options, ORIGIN, UP | UV);
    let view = finish_registration(app, user, &ceremony, name, &answer).await;
    assert_eq!(view["id"], key.id());
    assert_eq!(view["name"], name);
    key
}

async fn start_login(app: &TestApp) -> (String, Value) {
    let started = app.call(Method::POST, LOGIN_START, Auth::None, None).await;
    started.assert_status(StatusCode::OK);
    let body = started.json();
    (body["ceremony_id"].as_str().expect("ceremony id").to_owned(), body["options"].clone())
}

async fn finish_login(app: &TestApp, ceremony: &str, credential: &Value) -> krv_tests::TestResponse {
    let body = json!({"ceremony_id": ceremony, "credential": credential});
    app.call(Method::POST, LOGIN_FINISH, Auth::None, Some(&body)).await
}

/// A passwordless login with `key`, whatever it answers.
async fn login_with(app: &TestApp, key: &mut SoftKey) -> krv_tests::TestResponse {
    let (ceremony, options) = start_login(app).await;
    let assertion = get(key, &options, ORIGIN, UP | UV);
    finish_login(app, &ceremony, &assertion).await
}

/// The user's passkey items as stored: (credential id, name, whole item).
async fn stored(app: &TestApp, user_id: u64) -> Vec<(String, String, krv_tests::invariants::Item)> {
    let table = &app.state.stores.tables.identity;
    let mut found: Vec<_> = app
        .scan(table)
        .await
        .into_iter()
        .filter(|item| {
            item.get("pk").and_then(|v| v.as_s().ok()).is_some_and(|pk| *pk == format!("USER#{user_id}"))
                && item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("MFA#PASSKEY#"))
        })
        .map(|item| {
            let sk = item["sk"].as_s().expect("sk").trim_start_matches("MFA#PASSKEY#").to_owned();
            let name = item["name"].as_s().expect("name").clone();
            (sk, name, item)
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// The user's passkey count on the user item.
async fn counted(app: &TestApp, user_id: u64) -> u64 {
    let user = shared::users::get(&app.state.stores, user_id).await.expect("read").expect("user");
    u64::from(user.mfa.passkeys)
}

async fn audit_actions(app: &TestApp, action: &str) -> Vec<Value> {
    let page = app.call(Method::GET, &format!("/api/admin/audit?action={action}&limit=100"), SYSTEM, None).await;
    page.assert_status(StatusCode::OK);
    let body = page.json();
    let items = body.get("items").unwrap_or(&body);
    items.as_array().expect("audit list").clone()
}

// ---- the tests ----

/// A registration answer made from creation options, for the refusal cases.
type MakeRegistration = Box<dyn Fn(&Value) -> Value>;
/// An assertion made with a key from request options, for the refusal cases.
type MakeAssertion = Box<dyn Fn(&mut SoftKey, &Value) -> Value>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_register_log_in_and_are_renamed_and_deleted() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let mut laptop = register(&app, &alice, "Laptop").await;
    let mut phone = register(&app, &alice, "Phone").await;
    assert_eq!(counted(&app, alice.id).await, 2);
    let items = stored(&app, alice.id).await;
    assert_eq!(
        items.iter().map(|i| (i.0.clone(), i.1.clone())).collect::<Vec<_>>(),
        [(laptop.id(), "Laptop".to_owned()), (phone.id(), "Phone".to_owned())]
    );
    assert!(items[0].2.contains_key("created_at_ms") && !items[0].2.contains_key("last_used_at_ms"));

    // Passwordless login: the same answer and session as a password login.
    let login = login_with(&app, &mut laptop).await;
    login.assert_status(StatusCode::OK);
    assert_eq!(login.json()["user"]["username"], "alice");
    let session = login.session_token().expect("the session cookie");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&session), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["auth_method"], "session");
    let used = stored(&app, alice.id).await;
    assert!(used[0].2.contains_key("last_used_at_ms"), "the use is recorded");
    assert!(used[0].2["credential"].as_s().expect("json").contains("\"counter\":1"), "the counter is kept");
    // A second login with the same key moves its counter on.
    login_with(&app, &mut laptop).await.assert_status(StatusCode::OK);
    assert!(stored(&app, alice.id).await[0].2["credential"].as_s().expect("json").contains("\"counter\":2"));

    // A counter that does not move forward is a cloned key: refused.
    laptop.counter = 1;
    login_with(&app, &mut laptop).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    laptop.counter = 2;

    // Rename.
    let path = format!("/api/auth/mfa/webauthn/{}", phone.id());
    let renamed = app.call(Method::PATCH, &path, alice.auth(), Some(&json!({"name": "  Work phone "}))).await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["name"], "Work phone");
    assert_eq!(renamed.json()["id"], phone.id());
    assert_eq!(stored(&app, alice.id).await[1].1, "Work phone");

    // Delete: the passkey no longer logs in.
    let deleted = app.call(Method::DELETE, &path, alice.auth(), None).await;
    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.json()["message"], "Passkey 'Work phone' deleted");
    assert_eq!(counted(&app, alice.id).await, 1);
    login_with(&app, &mut phone).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.call(Method::DELETE, &path, alice.auth(), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Every step is audited.
    for (action, outcome, count) in [
        ("mfa.passkey.register", "success", 2),
        ("mfa.passkey.rename", "success", 1),
        ("mfa.passkey.delete", "success", 1),
    ] {
        let events = audit_actions(&app, action).await;
        assert_eq!(events.len(), count, "{action}: {events:?}");
        assert!(events.iter().all(|e| e["outcome"] == outcome && e["actor"] == "alice"), "{events:?}");
    }
    let logins = audit_actions(&app, "auth.login").await;
    let by_passkey: Vec<_> =
        logins.iter().filter(|e| e["detail"].as_str().is_some_and(|d| d.contains("passkey"))).collect();
    assert_eq!(by_passkey.iter().filter(|e| e["outcome"] == "success").count(), 2, "{logins:?}");
    assert_eq!(by_passkey.iter().filter(|e| e["outcome"] == "failure").count(), 2, "{logins:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_ceremony_cannot_be_replayed() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let (ceremony, options) = start_registration(&app, &alice).await;
    let (mut key, answer) = create(&options, ORIGIN, UP | UV);
    finish_registration(&app, &alice, &ceremony, "Laptop", &answer).await;
    let again = json!({"ceremony_id": ceremony, "name": "Laptop", "credential": answer});
    let replayed = app.call(Method::POST, REGISTER_FINISH, alice.auth(), Some(&again)).await;
    replayed.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(replayed.json()["errors"][0]["field"], "ceremony_id");
    assert_eq!(counted(&app, alice.id).await, 1);

    let (ceremony, options) = start_login(&app).await;
    let assertion = get(&mut key, &options, ORIGIN, UP | UV);
    finish_login(&app, &ceremony, &assertion).await.assert_status(StatusCode::OK);
    let replayed = finish_login(&app, &ceremony, &assertion).await;
    replayed.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(replayed.session_token().is_none());
    // Nor does the assertion work for another ceremony: its challenge was that one's.
    let (other, _) = start_login(&app).await;
    finish_login(&app, &other, &assertion).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_answer_503_without_a_relying_party() {
    // No PUBLIC_URL, and an address-only one: no relying party.
    for app in [TestApp::start().await, TestApp::builder().env("PUBLIC_URL", "http://127.0.0.1:8000").build().await] {
        let alice = app.with_user("alice", "user").await;
        let body = json!({"ceremony_id": "0".repeat(32), "name": "x", "credential": {}});
        for (path, auth, body) in [
            (REGISTER_START, alice.auth(), None),
            (REGISTER_FINISH, alice.auth(), Some(&body)),
            (LOGIN_START, Auth::None, None),
            (LOGIN_FINISH, Auth::None, Some(&body)),
        ] {
            let answer = app.call(Method::POST, path, auth, body).await;
            let error = answer.assert_error(StatusCode::SERVICE_UNAVAILABLE, "passkeys_unavailable");
            assert!(error["detail"].as_str().expect("detail").contains("PUBLIC_URL"), "{error}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_and_other_users_ceremonies_are_refused() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let bob = app.with_user("bob", "user").await;
    let (ceremony, options) = start_registration(&app, &alice).await;
    let (_, answer) = create(&options, ORIGIN, UP | UV);
    // Bob cannot finish Alice's registration (and does not use it up).
    let stolen = json!({"ceremony_id": ceremony, "name": "mine", "credential": answer});
    let refused = app.call(Method::POST, REGISTER_FINISH, bob.auth(), Some(&stolen)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for unknown in ["", "nope", &"0".repeat(32), &"../".repeat(20), &"f".repeat(5000)] {
        let body = json!({"ceremony_id": unknown, "name": "x", "credential": answer});
        let refused = app.call(Method::POST, REGISTER_FINISH, alice.auth(), Some(&body)).await;
        assert_eq!(
            refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")["errors"][0]["field"],
            "ceremony_id"
        );
        let body = json!({"ceremony_id": unknown, "credential": answer});
        let refused = app.call(Method::POST, LOGIN_FINISH, Auth::None, Some(&body)).await;
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }

    // A ceremony lives five minutes; one past its time is refused.
    let redis = &app.state.stores.redis;
    let key = redis.key(&format!("mfa:pkreg:{{u{}}}:{ceremony}", alice.id));
    let ttl: i64 = redis.query(redis::cmd("TTL").arg(&key)).await.expect("ttl");
    assert!((290..=300).contains(&ttl), "ttl {ttl}");
    let _: i64 = redis.query(redis::cmd("PEXPIRE").arg(&key).arg(1)).await.expect("expire");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let expired = app
        .call(
            Method::POST,
            REGISTER_FINISH,
            alice.auth(),
            Some(&json!({"ceremony_id": ceremony, "name": "late", "credential": answer})),
        )
        .await;
    expired.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(counted(&app, alice.id).await, 0);

    let (login, _) = start_login(&app).await;
    let key = redis.key(&format!("mfa:pklogin:{login}"));
    let ttl: i64 = redis.query(redis::cmd("TTL").arg(&key)).await.expect("ttl");
    assert!((290..=300).contains(&ttl), "ttl {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_refused_credentials_answer_422_never_500() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let good = |options: &Value| create(options, ORIGIN, UP | UV).1;
    let mut broken: Vec<(&str, MakeRegistration)> = vec![
        ("empty object", Box::new(|_| json!({}))),
        ("a string", Box::new(|_| json!("credential"))),
        ("a number", Box::new(|_| json!(5))),
        ("null", Box::new(|_| Value::Null)),
        (
            "no response",
            Box::new(move |o| {
                let mut c = good(o);
                c.as_object_mut().expect("object").remove("response");
                c
            }),
        ),
        (
            "not base64",
            Box::new(move |o| {
                let mut c = good(o);
                c["response"]["attestationObject"] = json!("!!!not base64!!!");
                c
            }),
        ),
        (
            "garbage CBOR",
            Box::new(move |o| {
                let mut c = good(o);
                c["response"]["attestationObject"] = json!(B64.encode(b"\xff\x00garbage"));
                c
            }),
        ),
        (
            "client data not JSON",
            Box::new(move |o| {
                let mut c = good(o);
                c["response"]["clientDataJSON"] = json!(B64.encode(b"{not json"));
                c
            }),
        ),
        ("a foreign origin", Box::new(|o| create(o, "https://evil.example", UP | UV).1)),
        ("no user verification", Box::new(|o| create(o, ORIGIN, UP).1)),
        (
            "an assertion instead",
            Box::new(|o| {
                let (mut key, _) = create(o, ORIGIN, UP | UV);
                get(&mut key, o, ORIGIN, UP | UV)
            }),
        ),
    ];
    broken.push(("another ceremony's answer", Box::new(|_| {
        // Its challenge is not this ceremony's.
        let other = json!({"publicKey": {"challenge": B64.encode([7u8; 32]), "rp": {"id": RP_ID}, "user": {"id": B64.encode([1u8; 16])}}});
        create(&other, ORIGIN, UP | UV).1
    })));
    for (what, make) in &broken {
        let (ceremony, options) = start_registration(&app, &alice).await;
        let body = json!({"ceremony_id": ceremony, "name": "x", "credential": make(&options)});
        let answer = app.call(Method::POST, REGISTER_FINISH, alice.auth(), Some(&body)).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", answer.text());
        assert!(answer.json()["detail"].is_string(), "{what}");
        assert_eq!(answer.json()["errors"][0]["field"], "credential", "{what}: {}", answer.text());
    }
    assert_eq!(counted(&app, alice.id).await, 0);
    let refused = audit_actions(&app, "mfa.passkey.register").await;
    assert!(refused.iter().all(|e| e["outcome"] == "failure"), "{refused:?}");
    assert!(refused.len() >= 4, "refused answers are audited: {refused:?}");

    // Logins: malformed is 422, well-formed but wrong is 401.
    let mut key = register(&app, &alice, "Laptop").await;
    for bad in [json!({}), json!("x"), json!({"id": "a", "rawId": "a", "type": "public-key", "response": {}})] {
        let (ceremony, _) = start_login(&app).await;
        let answer = finish_login(&app, &ceremony, &bad).await;
        answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let wrong: Vec<(&str, MakeAssertion)> = vec![
        (
            "a bad signature",
            Box::new(|k, o| {
                let mut a = get(k, o, ORIGIN, UP | UV);
                a["response"]["signature"] = json!(B64.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]));
                a
            }),
        ),
        (
            "a signature of garbage",
            Box::new(|k, o| {
                let mut a = get(k, o, ORIGIN, UP | UV);
                a["response"]["signature"] = json!(B64.encode(b"garbage"));
                a
            }),
        ),
        ("no user verification", Box::new(|k, o| get(k, o, ORIGIN, UP))),
        ("a foreign origin", Box::new(|k, o| get(k, o, "https://evil.example", UP | UV))),
        (
            "no user handle",
            Box::new(|k, o| {
                let mut a = get(k, o, ORIGIN, UP | UV);
                a["response"]["userHandle"] = Value::Null;
                a
            }),
        ),
        (
            "a foreign user handle",
            Box::new(|k, o| {
                let mut a = get(k, o, ORIGIN, UP | UV);
                a["response"]["userHandle"] = json!(B64.encode([9u8; 16]));
                a
            }),
        ),
        (
            "an unknown credential",
            Box::new(|k, o| {
                let mut a = get(k, o, ORIGIN, UP | UV);
                a["rawId"] = json!(B64.encode([5u8; 16]));
                a
            }),
        ),
        (
            "a huge credential id",
            Box::new(|k, o| {
                let mut a = get(k, o, ORIGIN, UP | UV);
                a["rawId"] = json!(B64.encode([5u8; 4000]));
                a
            }),
        ),
    ];
    for (what, make) in &wrong {
        let (ceremony, options) = start_login(&app).await;
        let answer = finish_login(&app, &ceremony, &make(&mut key, &options)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}: {}", answer.text());
        assert_eq!(answer.json()["code"], "invalid_credentials", "{what}");
        assert!(answer.session_token().is_none(), "{what}");
    }
    let failures: Vec<_> =
        audit_actions(&app, "auth.login").await.into_iter().filter(|e| e["outcome"] == "failure").collect();
    assert_eq!(failures.len(), wrong.len(), "every refused assertion is audited: {failures:?}");
    // The key itself still works.
    login_with(&app, &mut key).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_under_concurrent_registrations() {
    let app = app().await;
    let cap = u64::from(shared::mfa::passkey::MAX_PER_USER);
    for trial in 0..3 {
        let user = app.with_user(&format!("user{trial}"), "user").await;
        for i in 0..cap - 2 {
            register(&app, &user, &format!("key {i}")).await;
        }
        // Six ceremonies begun while two places are free, finished at once.
        let mut pending = Vec::new();
        for _ in 0..6 {
            let (ceremony, options) = start_registration(&app, &user).await;
            pending.push((ceremony, create(&options, ORIGIN, UP | UV).1));
        }
        let answers = futures::future::join_all(pending.iter().enumerate().map(|(i, (ceremony, answer))| {
            let body = json!({"ceremony_id": ceremony, "name": format!("racer {i}"), "credential": answer});
            let user = &user;
            let app = &app;
            async move { app.call(Method::POST, REGISTER_FINISH, user.auth(), Some(&body)).await }
        }))
        .await;
        let ok = answers.iter().filter(|a| a.status == StatusCode::OK).count();
        assert_eq!(ok, 2, "trial {trial}: {:?}", answers.iter().map(|a| (a.status, a.text())).collect::<Vec<_>>());
        for refused in answers.iter().filter(|a| a.status != StatusCode::OK) {
            refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        }
        assert_eq!(counted(&app, user.id).await, cap, "trial {trial}");
        assert_eq!(stored(&app, user.id).await.len() as u64, cap, "trial {trial}");
        // At the cap, a new ceremony is refused up front.
        app.call(Method::POST, REGISTER_START, user.auth(), None)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_validated_and_other_users_passkeys_are_not_found() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let bob = app.with_user("bob", "user").await;
    let key = register(&app, &alice, "Laptop").await;
    let path = format!("/api/auth/mfa/webauthn/{}", key.id());
    for bad in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(65)}),
        json!({"name": "a\u{202e}b"}),
        json!({"name": 5}),
        json!({}),
    ] {
        let answer = app.call(Method::PATCH, &path, alice.auth(), Some(&bad)).await;
        answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    // A registration with a bad name is refused before the ceremony is used.
    let (ceremony, options) = start_registration(&app, &alice).await;
    let (_, answer) = create(&options, ORIGIN, UP | UV);
    let body = json!({"ceremony_id": ceremony, "name": "", "credential": answer});
    app.call(Method::POST, REGISTER_FINISH, alice.auth(), Some(&body))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    finish_registration(&app, &alice, &ceremony, "x".repeat(64).as_str(), &answer).await;

    // Bob cannot see, rename or delete Alice's passkey.
    app.call(Method::PATCH, &path, bob.auth(), Some(&json!({"name": "mine"})))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::DELETE, &path, bob.auth(), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    for weird in ["nope", "%2E%2E", &"A".repeat(2000)] {
        let path = format!("/api/auth/mfa/webauthn/{weird}");
        app.call(Method::DELETE, &path, alice.auth(), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(stored(&app, alice.id).await[0].1, "Laptop");
    assert_eq!(counted(&app, alice.id).await, 2);

    // Only a login session manages passkeys: not an API token, not the admin secret.
    let (token, _) = app.create_token(&alice.token, "script").await;
    for (auth, code) in [(Auth::Bearer(&token), "session_required"), (SYSTEM, "no_passkeys")] {
        app.call(Method::POST, REGISTER_START, auth, None).await.assert_error(StatusCode::FORBIDDEN, code);
        app.call(Method::DELETE, &path, auth, None).await.assert_error(StatusCode::FORBIDDEN, code);
    }
    app.call(Method::POST, REGISTER_START, Auth::None, None).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_user_cannot_log_in_with_a_passkey() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let mut key = register(&app, &alice, "Laptop").await;
    let path = format!("/api/auth/users/{}", alice.id);
    app.call(Method::PATCH, &path, SYSTEM, Some(&json!({"is_active": false}))).await.assert_status(StatusCode::OK);
    login_with(&app, &mut key).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let failures = audit_actions(&app, "auth.login").await;
    assert!(failures.iter().any(|e| e["outcome"] == "failure" && e["reason"] == "disabled"), "{failures:?}");
    app.call(Method::PATCH, &path, SYSTEM, Some(&json!({"is_active": true}))).await.assert_status(StatusCode::OK);
    login_with(&app, &mut key).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_finishes_what_one_began() {
    let app = app().await;
    let other = app.another_instance().await;
    let alice = app.with_user("alice", "user").await;
    let (ceremony, options) = start_registration(&app, &alice).await;
    let (mut key, answer) = create(&options, ORIGIN, UP | UV);
    let body = json!({"ceremony_id": ceremony, "name": "Laptop", "credential": answer});
    other.call(Method::POST, REGISTER_FINISH, alice.auth(), Some(&body)).await.assert_status(StatusCode::OK);
    let (ceremony, options) = start_login(&other).await;
    let assertion = get(&mut key, &options, ORIGIN, UP | UV);
    finish_login(&app, &ceremony, &assertion).await.assert_status(StatusCode::OK);
}

// ---- the second factor after a password ----

const STEP_START: &str = "/api/auth/login/webauthn/start";
const STEP_FINISH: &str = "/api/auth/login/webauthn/finish";

/// A right password for a user with a factor: the `mfa_token` it answers.
async fn password_step(app: &TestApp, name: &str) -> String {
    let answer = app.login_attempt(name, krv_tests::PASSWORD, "127.0.0.1").await;
    let body = answer.assert_error(StatusCode::UNAUTHORIZED, "mfa_required");
    assert!(body["methods"].as_array().expect("methods").contains(&json!("webauthn")), "{body}");
    body["mfa_token"].as_str().expect("mfa_token").to_owned()
}

async fn start_step(app: &TestApp, token: &str) -> (String, Value) {
    let started = app.call(Method::POST, STEP_START, Auth::None, Some(&json!({"mfa_token": token}))).await;
    started.assert_status(StatusCode::OK);
    let body = started.json();
    (body["ceremony_id"].as_str().expect("ceremony id").to_owned(), body["options"].clone())
}

async fn finish_step(app: &TestApp, token: &str, ceremony: &str, credential: &Value) -> krv_tests::TestResponse {
    let body = json!({"mfa_token": token, "ceremony_id": ceremony, "credential": credential});
    app.call(Method::POST, STEP_FINISH, Auth::None, Some(&body)).await
}

/// An assertion `key` makes that the service must refuse: its signature is
/// of other data.
fn forged(key: &mut SoftKey, options: &Value) -> Value {
    let mut assertion = get(key, options, ORIGIN, UP | UV);
    let other = get(key, &json!({"publicKey": {"challenge": B64.encode([1u8; 32])}}), ORIGIN, UP | UV);
    assertion["response"]["signature"] = other["response"]["signature"].clone();
    assertion
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_the_second_factor_after_a_password() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let mut laptop = register(&app, &alice, "Laptop").await;
    let mut phone = register(&app, &alice, "Phone").await;
    let token = password_step(&app, "alice").await;

    // The options allow Alice's passkeys, and starting does not use the token.
    let (ceremony, options) = start_step(&app, &token).await;
    let allowed: Vec<_> = options["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allowCredentials")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(allowed.len(), 2);
    assert!(allowed.contains(&laptop.id()) && allowed.contains(&phone.id()), "{allowed:?}");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let (_, _) = start_step(&app, &token).await;

    // A wrong assertion: 401 invalid_code, the token lives on.
    finish_step(&app, &token, &ceremony, &forged(&mut laptop, &options))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    // The used ceremony is gone, the token is not.
    let (ceremony, options) = start_step(&app, &token).await;
    let done = finish_step(&app, &token, &ceremony, &get(&mut phone, &options, ORIGIN, UP | UV)).await;
    done.assert_status(StatusCode::OK);
    assert_eq!(done.json()["user"]["username"], "alice");
    let session = done.session_token().expect("the session cookie");
    assert_eq!(app.me_status(&session).await, StatusCode::OK);
    assert!(stored(&app, alice.id).await[1].2.contains_key("last_used_at_ms"), "the phone's use is recorded");

    // The token is used up.
    app.call(Method::POST, STEP_START, Auth::None, Some(&json!({"mfa_token": token})))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");

    let logins = audit_actions(&app, "auth.login").await;
    assert!(logins.iter().any(|e| e["outcome"] == "success" && e["detail"] == "second factor: passkey"), "{logins:?}");
    assert!(
        logins.iter().any(|e| e["outcome"] == "failure" && e["reason"] == "wrong_second_factor"),
        "the failed assertion is audited: {logins:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_ceremony_finishes_only_its_own_login() {
    let app = app().await;
    let alice = app.with_user("alice", "user").await;
    let bob = app.with_user("bob", "user").await;
    let mut key = register(&app, &alice, "Laptop").await;
    let mut bobs = register(&app, &bob, "Bob's").await;
    let first = password_step(&app, "alice").await;
    let second = password_step(&app, "alice").await;
    let (ceremony, options) = start_step(&app, &first).await;
    let assertion = get(&mut key, &options, ORIGIN, UP | UV);
    // Another login's token (the same user's) cannot finish it, nor use it up.
    let refused = finish_step(&app, &second, &ceremony, &assertion).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Bob's passkey is not a factor of Alice's login.
    let (other, options) = start_step(&app, &first).await;
    finish_step(&app, &first, &other, &get(&mut bobs, &options, ORIGIN, UP | UV))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_code");
    // A passwordless ceremony is not a second-factor one.
    let (login, options) = start_login(&app).await;
    finish_step(&app, &first, &login, &get(&mut key, &options, ORIGIN, UP | UV))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for bad in ["", "nope", "1.abc"] {
        app.call(Method::POST, STEP_START, Auth::None, Some(&json!({"mfa_token": bad})))
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    }
    // A malformed credential is 422 and counts nothing.
    let (ceremony, _) = start_step(&app, &first).await;
    finish_step(&app, &first, &ceremony, &json!({"id": 1}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // After an admin's reset the passkey logs in neither way.
    app.call(Method::DELETE, &format!("/api/auth/users/{}/mfa", alice.id), SYSTEM, None)
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(counted(&app, alice.id).await, 0);
    login_with(&app, &mut key).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let reset_login = app.login_attempt("alice", krv_tests::PASSWORD, "127.0.0.1").await;
    reset_login.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_assertions_are_throttled_like_passwords_even_in_a_burst() {
    let lockout = 3;
    let app = TestApp::builder()
        .env("PUBLIC_URL", ORIGIN)
        .env("LOGIN_FREE_FAILURES", "100")
        .env("LOGIN_LOCKOUT_FAILURES", &lockout.to_string())
        .build()
        .await;
    for trial in 0..3 {
        let name = format!("user{trial}");
        let user = app.with_user(&name, "user").await;
        let mut key = register(&app, &user, "Laptop").await;
        let token = password_step(&app, &name).await;
        // Ten wrong assertions at once: no more are checked than the lockout allows.
        let mut attempts = Vec::new();
        for _ in 0..10 {
            let (ceremony, options) = start_step(&app, &token).await;
            attempts.push((ceremony, forged(&mut key, &options)));
        }
        let answers = futures::future::join_all(
            attempts.iter().map(|(ceremony, assertion)| finish_step(&app, &token, ceremony, assertion)),
        )
        .await;
        let checked = answers.iter().filter(|a| a.status == StatusCode::UNAUTHORIZED).count();
        let throttled = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(
            checked + throttled,
            answers.len(),
            "trial {trial}: {:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        assert!(checked <= lockout, "trial {trial}: {checked} assertions were checked");
        assert!(checked >= 1, "trial {trial}");
        // The account is locked now: even the right passkey waits.
        let (ceremony, options) = start_step(&app, &token).await;
        finish_step(&app, &token, &ceremony, &get(&mut key, &options, ORIGIN, UP | UV))
            .await
            .assert_status(StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_page_cannot_log_a_browser_in_with_a_passkey() {
    // Login CSRF: an attacker's own assertion, posted from their page by the
    // victim's browser, would sign the victim in as the attacker.
    let app = app().await;
    let mallory = app.with_user("mallory", "user").await;
    let mut key = register(&app, &mallory, "Mallory's").await;
    let (ceremony, options) = start_login(&app).await;
    let assertion = get(&mut key, &options, ORIGIN, UP | UV);
    let body = json!({"ceremony_id": ceremony, "credential": assertion});
    for path in [LOGIN_FINISH, STEP_FINISH] {
        app.request(Method::POST, path)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .json(&body)
            .send()
            .await
            .assert_error(StatusCode::FORBIDDEN, "csrf_refused");
    }
    // From the service's own page it goes through.
    let own = app.request(Method::POST, LOGIN_FINISH).header("origin", ORIGIN).json(&body).send().await;
    own.assert_status(StatusCode::OK);
}
