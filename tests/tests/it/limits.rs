//! Input limits (docs/limits.md): body size, malformed bodies, string and list
//! lengths, page sizes, the unknown-fields policy and Unicode in names. Every
//! refusal is a JSON `{"detail", "code"}` 4xx naming the field, never a 5xx.

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp, TestResponse};
use serde_json::{Value, json};

/// The field a 422 names first.
fn field_of(response: &TestResponse) -> String {
    let body = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    body["errors"][0]["field"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_and_malformed_ones_are_clear_client_errors() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move { app.request(Method::POST, "/api/auth/tokens").bearer(&admin).body(content_type, body).send().await }
    };

    // 64 KiB is the limit; one byte more is a 413 (not a truncated read).
    let mut big = br#"{"name": "x", "pad": ""#.to_vec();
    big.resize(64 * 1024 + 1 - 2, b'a');
    big.extend_from_slice(br#""}"#);
    assert_eq!(big.len(), 64 * 1024 + 1);
    post(big, "application/json").await.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    post(b"{\"name\": ".to_vec(), "application/json").await.assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    post(b"{\"name\": \"\xff\xfe\"}".to_vec(), "application/json")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    post(br#"{"name": "\ud800"}"#.to_vec(), "application/json")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_json");
    // Nesting deeper than the parser's recursion limit is refused, not a stack overflow.
    let deep = [vec![b'['; 20_000], vec![b']'; 20_000]].concat();
    post(deep, "application/json").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let ignored =
        [br#"{"name": "deep", "pad": "#.to_vec(), vec![b'['; 20_000], vec![b']'; 20_000], b"}".to_vec()].concat();
    post(ignored, "application/json").await.assert_status(StatusCode::CREATED);
    post(br#"{"name": "x"}"#.to_vec(), "text/plain").await.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(field_of(&post(br#"{"name": 5}"#.to_vec(), "application/json").await), "name");

    let invitation = |body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { app.call(Method::POST, "/api/auth/invitations", Auth::Bearer(&admin), Some(&body)).await }
    };
    assert_eq!(field_of(&invitation(json!({"max_uses": 1e30})).await), "max_uses");
    assert_eq!(field_of(&invitation(json!({"max_uses": -1})).await), "max_uses");
    assert_eq!(field_of(&invitation(json!({"expires_hours": 18446744073709551616u128 as f64})).await), "expires_hours");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_and_lists_are_bounded_per_field() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let user = app.create_user(&admin, "alice", "user").await;
    let call = |method: Method, path: String, body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { app.call(method, &path, Auth::Bearer(&admin), Some(&body)).await }
    };
    let long = |n: usize| "x".repeat(n);

    // Names and free text, in characters.
    for (path, body, field) in [
        ("/api/auth/tokens", json!({"name": long(101)}), "name"),
        ("/api/auth/groups", json!({"name": long(101)}), "name"),
        ("/api/auth/groups", json!({"name": "g", "description": long(1001)}), "description"),
        ("/api/auth/register", json!({"username": long(51), "password": "Correct-Horse-Battery-9"}), "username"),
        ("/api/auth/register", json!({"username": "bob", "password": long(1025)}), "password"),
        (
            "/api/auth/register",
            json!({"username": "bob", "password": "Correct-Horse-Battery-9", "display_name": long(101)}),
            "display_name",
        ),
        ("/api/authorize", json!({"resource": format!("vps:{}", "9".repeat(5000)), "action": "connect"}), "resource"),
    ] {
        assert_eq!(field_of(&call(Method::POST, path.into(), body).await), field, "{path}");
    }
    let patch = call(Method::PATCH, format!("/api/auth/users/{user}"), json!({"display_name": long(101)})).await;
    assert_eq!(field_of(&patch), "display_name");

    // The longest accepted values are accepted.
    call(Method::POST, "/api/auth/tokens".into(), json!({"name": long(100)})).await.assert_status(StatusCode::CREATED);
    call(Method::POST, "/api/auth/groups".into(), json!({"name": long(100), "description": long(1000)}))
        .await
        .assert_status(StatusCode::CREATED);

    // Lists.
    let ids: Vec<u64> = (1..=21).collect();
    assert_eq!(
        field_of(&call(Method::POST, "/api/auth/invitations".into(), json!({"group_ids": ids})).await),
        "group_ids"
    );
    let many: Vec<u64> = (1..=201).collect();
    let assign = call(Method::POST, "/api/vps/1/assign".into(), json!({"user_ids": many})).await;
    assert_eq!(assign.status, StatusCode::UNPROCESSABLE_ENTITY, "{assign:?}");
    let task = |extra: Value| {
        let mut body = json!({"command": "make"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        call(Method::POST, "/api/tasks".into(), body)
    };
    assert_eq!(field_of(&task(json!({"arguments": vec!["a"; 257]})).await), "arguments");
    assert_eq!(field_of(&task(json!({"targets": vec!["node1"; 65]})).await), "targets");
    assert_eq!(field_of(&task(json!({"command": long(16 * 1024 + 1)})).await), "command");
    let gpus: Vec<u32> = vec![0; 65];
    assert_eq!(field_of(&task(json!({"targets": ["node1"], "required_gpus": [gpus]})).await), "required_gpus");
    let reject = call(Method::POST, "/api/reject/1".into(), json!({"reason": long(1001)})).await;
    assert_eq!(field_of(&reject), "reason");

    // Query filters that become DynamoDB keys are bounded (an oversized key
    // would be a store error, not the client's).
    let get = |path: String| {
        let (app, admin) = (&app, admin.clone());
        async move { app.call(Method::GET, &path, Auth::Bearer(&admin), None).await }
    };
    assert_eq!(field_of(&get(format!("/api/tasks?owner={}", long(3000))).await), "owner");
    assert_eq!(field_of(&get(format!("/api/admin/audit?actor={}", long(3000))).await), "actor");
    assert_eq!(field_of(&get(format!("/api/admin/audit?action={}", long(3000))).await), "action");
    let forged = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, long(3000));
    for list in ["/api/tasks", "/api/vps", "/api/admin/audit", "/api/tasks/pending-approval"] {
        assert_eq!(field_of(&get(format!("{list}?cursor={forged}")).await), "cursor", "{list}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sizes_and_cursors_are_checked_on_every_list() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let lists = [
        "/api/auth/users",
        "/api/auth/groups",
        "/api/auth/invitations",
        "/api/tasks",
        "/api/tasks/pending-approval",
        "/api/vps",
        "/api/admin/audit",
    ];
    for list in lists {
        let get = |query: &str| {
            let (app, admin, path) = (&app, admin.clone(), format!("{list}?{query}"));
            async move { app.call(Method::GET, &path, Auth::Bearer(&admin), None).await }
        };
        get("limit=500").await.assert_status(StatusCode::OK);
        for bad in [
            "limit=0",
            "limit=501",
            "limit=-1",
            "limit=abc",
            "limit=99999999999999999999",
            "cursor=%%%",
            "cursor=bm9wZQ",
        ] {
            let response = get(bad).await;
            assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{list}?{bad}: {response:?}");
            assert!(response.json()["detail"].is_string(), "{list}?{bad}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored_and_never_stored() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let alice_id = app.create_user(&admin, "alice", "user").await;
    let alice = app.login("alice").await;

    // A token body cannot choose its id, owner or hash.
    let body = json!({"name": "ci", "id": 999_999, "user_id": 1, "token_hash": "00", "role": "admin"});
    let created = app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&alice), Some(&body)).await;
    created.assert_status(StatusCode::CREATED);
    let created = created.json();
    assert_ne!(created["id"], 999_999);
    let token = created["token"].as_str().expect("token");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(token), None).await.json();
    assert_eq!(
        (me["id"].as_u64(), me["role"].as_str()),
        (Some(alice_id), Some("user")),
        "the token is alice's, a user's"
    );

    // A profile change cannot smuggle a role, a password hash or a username.
    let body = json!({"display_name": "Alice A.", "password_hash": "x", "username": "mallory", "version": 0});
    let patched =
        app.call(Method::PATCH, &format!("/api/auth/users/{alice_id}"), Auth::Bearer(&admin), Some(&body)).await;
    patched.assert_status(StatusCode::OK);
    let user = app.call(Method::GET, &format!("/api/auth/users/{alice_id}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!((user["username"].as_str(), user["display_name"].as_str()), (Some("alice"), Some("Alice A.")));
    assert!(user.get("password_hash").is_none());
    app.login("alice").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unicode_normalized_and_spoofing_characters_are_refused() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let post = |path: &'static str, body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { app.call(Method::POST, path, Auth::Bearer(&admin), Some(&body)).await }
    };

    // Display names keep any script, stored in NFC ("e" + combining acute → "é").
    let body = json!({"username": "zoe", "password": krv_tests::PASSWORD, "display_name": "Zoe\u{301} 山田"});
    let created = post("/api/auth/register", body).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.json()["user"]["display_name"], "Zo\u{e9} 山田");

    // Group names are unique after NFC and case folding.
    post("/api/auth/groups", json!({"name": "Caf\u{e9}"})).await.assert_status(StatusCode::CREATED);
    post("/api/auth/groups", json!({"name": "Cafe\u{301}"}))
        .await
        .assert_error(StatusCode::CONFLICT, "group_name_taken");
    post("/api/auth/groups", json!({"name": "CAF\u{c9}"})).await.assert_error(StatusCode::CONFLICT, "group_name_taken");

    // Lengths count characters, not bytes: 100 CJK characters (300 bytes) fit.
    post("/api/auth/groups", json!({"name": "山".repeat(100)})).await.assert_status(StatusCode::CREATED);
    assert_eq!(field_of(&post("/api/auth/groups", json!({"name": "山".repeat(101)})).await), "name");

    // Invisible and direction-changing characters could make two names look
    // alike or a name read backwards: refused in every name.
    for sneaky in ["ops\u{202e}nimda", "a\u{200b}dmins", "\u{feff}team", "x\u{2066}y", "tab\there"] {
        assert_eq!(field_of(&post("/api/auth/groups", json!({"name": sneaky})).await), "name", "{sneaky:?}");
        assert_eq!(field_of(&post("/api/auth/tokens", json!({"name": sneaky})).await), "name", "{sneaky:?}");
        let body = json!({"username": "eve", "password": krv_tests::PASSWORD, "display_name": sneaky});
        assert_eq!(field_of(&post("/api/auth/register", body).await), "display_name", "{sneaky:?}");
    }

    // Usernames stay ASCII (they are typed in shells and URLs), with a clear message.
    let body = json!({"username": "zo\u{eb}", "password": krv_tests::PASSWORD});
    let refused = post("/api/auth/register", body).await;
    assert_eq!(field_of(&refused), "username");
    assert!(refused.json()["detail"].as_str().is_some_and(|d| d.contains("letters, digits")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_holds_at_most_100_tokens_even_when_creating_concurrently() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    app.create_user(&admin, "alice", "user").await;
    let alice = app.login("alice").await;
    let other = app.another_instance().await;
    let create = |i: usize| {
        let (instance, alice) = (if i.is_multiple_of(2) { &app } else { &other }, alice.clone());
        async move {
            let body = json!({"name": format!("t{i}")});
            instance.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&alice), Some(&body)).await
        }
    };
    // 110 attempts, 10 at a time from two instances: exactly 100 succeed.
    let mut statuses = Vec::new();
    for batch in (0..110).collect::<Vec<_>>().chunks(10) {
        let answers = futures::future::join_all(batch.iter().map(|i| create(*i))).await;
        statuses.extend(answers.iter().map(|r| r.status));
        for refused in answers.iter().filter(|r| r.status != StatusCode::CREATED) {
            refused.assert_error(StatusCode::CONFLICT, "too_many_tokens");
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 100);
    let listed = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&alice), None).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(100), "the unpaginated list is bounded by the cap");

    // Revoking one makes room for one.
    let id = listed[0]["id"].as_u64().expect("id");
    app.call(Method::DELETE, &format!("/api/auth/tokens/{id}"), Auth::Bearer(&alice), None)
        .await
        .assert_status(StatusCode::OK);
    create(1000).await.assert_status(StatusCode::CREATED);
    create(1001).await.assert_error(StatusCode::CONFLICT, "too_many_tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_fillers_are_refused_and_names_are_unique_under_nfkc_and_case_folding() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let post = |path: &'static str, body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { app.call(Method::POST, path, Auth::Bearer(&admin), Some(&body)).await }
    };
    // Soft hyphen, Hangul filler, combining grapheme joiner, tag character,
    // variation selector, line separator, braille blank: each shows nothing.
    for sneaky in ["ad\u{ad}mins", "\u{3164}", "ops\u{34f}", "gpu\u{e0041}", "team\u{fe0f}", "a\u{2028}b", "x\u{2800}y"]
    {
        let refused = post("/api/auth/groups", json!({"name": sneaky})).await;
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(field_of(&refused), "name", "{sneaky:?}");
        assert_eq!(field_of(&post("/api/auth/tokens", json!({"name": sneaky})).await), "name", "{sneaky:?}");
        let body = json!({"username": "eve", "password": krv_tests::PASSWORD, "display_name": sneaky});
        assert_eq!(field_of(&post("/api/auth/register", body).await), "display_name", "{sneaky:?}");
    }
    // Joiners stay: emoji sequences need them.
    post("/api/auth/groups", json!({"name": "👩\u{200d}💻 devs"})).await.assert_status(StatusCode::CREATED);

    // Fullwidth, ligature and case variants are one name.
    let abc = post("/api/auth/groups", json!({"name": "ＡＢＣ"})).await;
    abc.assert_status(StatusCode::CREATED);
    assert_eq!(abc.json()["name"], "ＡＢＣ", "the name is stored as typed (NFC)");
    for twin in ["abc", "ABC", "Ａbc"] {
        post("/api/auth/groups", json!({"name": twin})).await.assert_error(StatusCode::CONFLICT, "group_name_taken");
    }
    post("/api/auth/groups", json!({"name": "\u{fb01}le"})).await.assert_status(StatusCode::CREATED);
    post("/api/auth/groups", json!({"name": "FILE"})).await.assert_error(StatusCode::CONFLICT, "group_name_taken");
}
