//! The auth group's flows: the product page's sequence, registration rules,
//! login, `/me`, logout and the cookie.

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, REGISTER_SECRET, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_flow_first_admin_login_me_and_an_admin_created_user() {
    let app = TestApp::start().await;
    // Register the first admin with the register secret: logged in at once.
    let body = json!({"username": "admin", "password": PASSWORD, "register_secret": REGISTER_SECRET});
    let registered = app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
    registered.assert_status(StatusCode::CREATED);
    assert_eq!(registered.json()["user"]["role"], "admin");
    assert!(registered.session_token().is_some());

    // Log in, then ask who I am with the cookie.
    let login = app
        .call(Method::POST, "/api/auth/login", Auth::None, Some(&json!({"username": "admin", "password": PASSWORD})))
        .await;
    login.assert_status(StatusCode::OK);
    let body = login.json();
    assert_eq!(body["message"], "Login successful");
    assert_eq!(body["user"]["username"], "admin");
    assert!(body["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let token = login.session_token().expect("cookie");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Cookie(&token), None).await;
    me.assert_status(StatusCode::OK);
    let me = me.json();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert!(me["id"].is_u64(), "ids are JSON integers");
    assert_eq!(me["auth_method"], "session");
    assert!(me["last_login_at"].is_string());
    assert_eq!(me["groups"], json!([]));

    // The admin creates a user with a role, authenticating with Bearer: 201, no cookie.
    let created = app
        .call(
            Method::POST,
            "/api/auth/register",
            Auth::Bearer(&token),
            Some(&json!({"username": "alice", "password": PASSWORD, "role": "operator", "display_name": "Alice"})),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    assert!(created.session_cookie().is_none(), "an admin-created user is not logged in");
    let user = &created.json()["user"];
    assert_eq!(user["role"], "operator");
    assert_eq!(user["display_name"], "Alice");
    assert!(user["id"].as_u64() > me["id"].as_u64());

    // The new user can log in and sees their own role.
    let alice = app.login("alice").await;
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&alice), None).await.json();
    assert_eq!(me["role"], "operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_secret_only_works_while_no_active_admin_exists() {
    let app = TestApp::start().await;
    app.first_admin("root").await;
    let body = json!({"username": "second", "password": PASSWORD, "register_secret": REGISTER_SECRET});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body))
        .await
        .assert_error(StatusCode::FORBIDDEN, "admin_exists");
    // The compat query form is refused the same way.
    let body = json!({"username": "third", "password": PASSWORD});
    let path = format!("/api/auth/register?token={REGISTER_SECRET}");
    app.call(Method::POST, &path, Auth::None, Some(&body)).await.assert_error(StatusCode::FORBIDDEN, "admin_exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compat_query_token_registers_the_first_admin() {
    let app = TestApp::start().await;
    let path = format!("/api/auth/register?token={REGISTER_SECRET}");
    let response =
        app.call(Method::POST, &path, Auth::None, Some(&json!({"username": "boss", "password": PASSWORD}))).await;
    response.assert_status(StatusCode::CREATED);
    assert_eq!(response.json()["user"]["role"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_without_a_way_in_is_refused() {
    let app = TestApp::start().await;
    let body = json!({"username": "mallory", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body))
        .await
        .assert_error(StatusCode::FORBIDDEN, "registration_closed");
    let wrong = json!({"username": "mallory", "password": PASSWORD, "register_secret": "not-the-secret"});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&wrong))
        .await
        .assert_error(StatusCode::FORBIDDEN, "registration_closed");
    let code = json!({"username": "mallory", "password": PASSWORD, "invitation_code": "made-up"});
    app.call(Method::POST, "/api/auth/register", Auth::None, Some(&code))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_invitation");
    // A user (not an admin) cannot create users either.
    let admin = app.first_admin("root").await;
    app.create_user(&admin, "plain", "user").await;
    let plain = app.login("plain").await;
    app.call(Method::POST, "/api/auth/register", Auth::Bearer(&plain), Some(&body))
        .await
        .assert_error(StatusCode::FORBIDDEN, "registration_closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usernames_passwords_and_roles_are_422() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let cases = [
        (json!({"username": "ab", "password": PASSWORD}), "username"),
        (json!({"username": "has space", "password": PASSWORD}), "username"),
        (json!({"username": "x".repeat(51), "password": PASSWORD}), "username"),
        (json!({"username": "carol", "password": "short"}), "password"),
        (json!({"username": "carol", "password": "password123"}), "password"),
        (json!({"username": "carol", "password": "carol-is-great-99"}), "password"),
        (json!({"username": "carol", "password": "x".repeat(1025)}), "password"),
        (json!({"username": "carol", "password": PASSWORD, "role": "root"}), "role"),
        (json!({"username": "carol", "password": PASSWORD, "role": "anony"}), "role"),
        (json!({"username": "carol", "password": PASSWORD, "display_name": "x".repeat(101)}), "display_name"),
    ];
    for (body, field) in cases {
        let response = app.call(Method::POST, "/api/auth/register", Auth::Bearer(&admin), Some(&body)).await;
        let error = response.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(error["errors"][0]["field"], field, "{body}: {error}");
    }
    // A missing field is a 422 from the body parser, in the same shape.
    let response =
        app.call(Method::POST, "/api/auth/register", Auth::Bearer(&admin), Some(&json!({"username": "x"}))).await;
    response.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usernames_are_unique_regardless_of_case() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    app.create_user(&admin, "Dave", "user").await;
    let body = json!({"username": "dave", "password": PASSWORD});
    app.call(Method::POST, "/api/auth/register", Auth::Bearer(&admin), Some(&body))
        .await
        .assert_error(StatusCode::CONFLICT, "username_taken");
    // Login is case-insensitive on the name, and shows the name as registered.
    let login = app
        .call(Method::POST, "/api/auth/login", Auth::None, Some(&json!({"username": "DAVE", "password": PASSWORD})))
        .await;
    login.assert_status(StatusCode::OK);
    assert_eq!(login.json()["user"]["username"], "Dave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_wrong_password_and_disabled_accounts_get_the_same_401() {
    let app = TestApp::start().await;
    let admin = app.first_admin("root").await;
    let judy = app.create_user(&admin, "judy", "user").await;
    // Deactivate judy directly in the table (the admin endpoint for it belongs to the users group).
    app.state
        .stores
        .dynamo
        .update_item()
        .table_name(&app.state.stores.tables.identity)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{judy}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("USER".into()))
        .update_expression("SET is_active = :f")
        .expression_attribute_values(":f", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
        .send()
        .await
        .expect("deactivate");
    let disabled = app
        .call(Method::POST, "/api/auth/login", Auth::None, Some(&json!({"username": "judy", "password": PASSWORD})))
        .await;
    let unknown = app
        .call(Method::POST, "/api/auth/login", Auth::None, Some(&json!({"username": "ghost", "password": PASSWORD})))
        .await;
    let wrong = app
        .call(
            Method::POST,
            "/api/auth/login",
            Auth::None,
            Some(&json!({"username": "root", "password": "nope-nope-nope"})),
        )
        .await;
    for response in [&unknown, &wrong, &disabled] {
        let body = response.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(body["detail"], "Invalid username or password");
        assert!(response.session_cookie().is_none());
    }
    assert_eq!(unknown.bytes, wrong.bytes, "the bodies must not tell the cases apart");
    assert_eq!(unknown.bytes, disabled.bytes, "a disabled account must not confirm its password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_is_401_for_anonymous_and_invalid_callers() {
    let app = TestApp::start().await;
    app.get("/api/auth/me").await.assert_error(StatusCode::UNAUTHORIZED, "not_authenticated");
    let response = app.call(Method::GET, "/api/auth/me", Auth::Bearer("not.a.jwt"), None).await;
    response.assert_error(StatusCode::UNAUTHORIZED, "not_authenticated");
    assert!(response.header("www-authenticate").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_has_the_specified_flags() {
    let app = TestApp::builder().envs(&[("COOKIE_SECURE", "true"), ("SESSION_EXPIRE_HOURS", "12")]).build().await;
    let body = json!({"username": "admin", "password": PASSWORD, "register_secret": REGISTER_SECRET});
    let response = app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
    let cookie = response.session_cookie().expect("cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age=43200"] {
        assert!(cookie.split("; ").any(|part| part == flag), "{flag} missing in {cookie}");
    }
    let plain = TestApp::start().await; // COOKIE_SECURE=false
    let token = plain.first_admin("admin").await;
    let login = plain
        .call(Method::POST, "/api/auth/login", Auth::None, Some(&json!({"username": "admin", "password": PASSWORD})))
        .await;
    assert!(!login.session_cookie().expect("cookie").contains("Secure"));
    // Logout clears the cookie.
    let logout = plain.call(Method::POST, "/api/auth/logout", Auth::Cookie(&token), None).await;
    logout.assert_status(StatusCode::OK);
    assert!(logout.session_cookie().expect("cleared").contains("Max-Age=0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_auth_and_session_hours() {
    let app = TestApp::start().await;
    let status = app.get("/api/auth/status").await;
    status.assert_status(StatusCode::OK);
    let body = status.json();
    assert_eq!(body["auth_enabled"], true);
    assert_eq!(body["session_expire_hours"], 24);
    assert!(body["version"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_without_credentials_still_clears_the_cookie() {
    let app = TestApp::start().await;
    let response = app.call(Method::POST, "/api/auth/logout", Auth::None, None).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json()["message"], "Logged out successfully");
    assert!(response.session_cookie().is_some_and(|c| c.contains("Max-Age=0")));
}
