//! Logging in, tokens and passwords, and the user commands.

use std::os::unix::fs::PermissionsExt;

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD, TestApp};
use serde_json::{Value, json};

use super::{Cli, admin_shell, names};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_commands_work_as_written() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    app.first_admin("admin").await;
    let cli = Cli::new(&url);

    let login = cli.run(&["auth", "login", "--username", "admin", "--password", PASSWORD]).await;
    login.ok();
    assert!(login.stdout.contains("Logged in"), "{login:?}");

    let created = cli.run(&["auth", "token", "create", "my-script-token"]).await;
    created.ok();
    let token = created.stdout.trim().to_owned();
    assert!(token.starts_with("krv_"), "the token alone is printed: {created:?}");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::OK);

    let list = cli.run(&["auth", "token", "list"]).await;
    list.ok();
    assert!(list.stdout.contains("my-script-token"), "{list:?}");
    assert!(!list.stdout.contains(&token), "listing never shows a secret");
    assert!(names(&cli.json(&["auth", "token", "list"]).await, "name").contains(&"my-script-token".to_owned()));

    cli.run(&["auth", "token", "revoke", "my-script-token"]).await.ok();
    assert!(!names(&cli.json(&["auth", "token", "list"]).await, "name").contains(&"my-script-token".to_owned()));
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);

    // By id too, with --json and an expiry.
    let created = cli.json(&["auth", "token", "create", "short", "--expires-in-days", "7"]).await;
    assert!(created["expires_at"].is_string(), "{created}");
    let id = created["id"].as_u64().expect("id").to_string();
    let revoked = cli.json(&["auth", "token", "revoke", &id]).await;
    assert!(revoked["message"].as_str().expect("message").contains("short"), "{revoked}");
    cli.run(&["auth", "token", "revoke", "no-such-token"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_leaves_no_session_and_stores_the_token_for_the_user_only() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    let admin = app.first_admin("admin").await;
    app.create_user(&admin, "alice", "user").await;
    let cli = Cli::new(&url);

    cli.login("alice").await.ok();
    let mode = std::fs::metadata(cli.credentials()).expect("credentials file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "credentials file mode {mode:o}");
    let dir_mode = std::fs::metadata(cli.config_dir().join("kohakuriver")).expect("dir").permissions().mode();
    assert_eq!(dir_mode & 0o077, 0, "the directory is the user's only: {dir_mode:o}");
    let token = cli.stored_token();
    assert!(token.starts_with("krv_"), "an API token is stored, not a session");

    let sessions = app.call(Method::GET, "/api/auth/sessions", Auth::Bearer(&token), None).await;
    sessions.assert_status(StatusCode::OK);
    assert_eq!(sessions.json(), json!([]), "the login session was ended");
    let users = app.call(Method::GET, "/api/auth/users", Auth::Bearer(&admin), None).await.json();
    let alice = users.as_array().expect("array").iter().find(|u| u["username"] == "alice").expect("alice").clone();
    assert_eq!(alice["active_sessions"], 0, "{alice}");

    let status = cli.json(&["auth", "status"]).await;
    assert_eq!(status["username"], "alice");
    assert_eq!(status["role"], "user");
    assert_eq!(status["server"], url.as_str());
    assert_eq!(status["auth_method"], "api_token");
    assert!(status["token_name"].is_string(), "{status}");
    let human = cli.run(&["auth", "status"]).await;
    human.ok();
    assert!(human.stdout.contains("alice") && human.stdout.contains(&url), "{human:?}");

    // A second login from the same machine gets a token of its own.
    cli.login("alice").await.ok();
    assert_ne!(cli.stored_token(), token);
    let tokens = app.call(Method::GET, "/api/auth/tokens", Auth::Bearer(&token), None).await.json();
    assert_eq!(tokens.as_array().expect("array").len(), 2, "{tokens}");

    // KOHAKURIVER_TOKEN wins over the file.
    let (ci_token, _) = app.create_token(&admin, "ci").await;
    let run = cli.run_with(&["--json", "auth", "status"], None, &[("KOHAKURIVER_TOKEN", &ci_token)]).await;
    let status = run.json();
    assert_eq!(status["username"], "admin");
    assert_eq!(status["token_source"], "KOHAKURIVER_TOKEN");

    // Logging out with --revoke ends the token on the server and forgets it.
    let current = cli.stored_token();
    cli.run(&["auth", "logout", "--revoke"]).await.ok();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&current), None).await.assert_status(StatusCode::UNAUTHORIZED);
    let file: Value = serde_json::from_slice(&std::fs::read(cli.credentials()).expect("file")).expect("JSON");
    assert!(file["servers"].get(&url).is_none(), "{file}");
    cli.run(&["auth", "status"]).await.code(3);
    // A plain logout keeps the token valid on the server.
    cli.login("alice").await.ok();
    let kept = cli.stored_token();
    cli.run(&["auth", "logout"]).await.ok();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&kept), None).await.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_token_is_checked_before_it_is_stored_and_passwords_change() {
    let app = TestApp::start().await;
    let (url, _guard) = app.serve().await;
    let admin = app.first_admin("admin").await;
    let cli = Cli::new(&url);

    let bad = "krv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let refused = cli.run(&["auth", "login", "--token", bad]).await;
    refused.code(3);
    assert!(refused.stderr.contains("refused"), "{refused:?}");
    assert!(!cli.credentials().exists(), "nothing is stored for a refused token");

    let (token, _) = app.create_token(&admin, "laptop").await;
    cli.run(&["auth", "login", "--token", &token]).await.ok();
    assert_eq!(cli.stored_token(), token);
    let status = cli.json(&["auth", "status"]).await;
    assert_eq!(status["username"], "admin");
    assert_eq!(status["token_name"], "laptop", "the token is recognised in the list");

    let new_password = "Another-Long-Passphrase-42";
    let input = format!("{PASSWORD}\n{new_password}\n");
    cli.run_with(&["auth", "password", "--password-stdin"], Some(&input), &[]).await.ok();
    let body = json!({"username": "admin", "password": new_password});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await.assert_status(StatusCode::OK);
    let wrong = cli.run_with(&["auth", "password", "--password-stdin"], Some(&input), &[]).await;
    wrong.code(3);

    // Logging out with --revoke finds the id of a token stored with --token.
    cli.run(&["auth", "logout", "--revoke"]).await.ok();
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&token), None).await.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_commands_manage_accounts() {
    let (app, _guard, _admin, cli) = admin_shell().await;
    let input = format!("{PASSWORD}\n");
    let run = cli
        .run_with(&["--json", "users", "create", "bob", "--role", "user", "--password-stdin"], Some(&input), &[])
        .await;
    let created = run.json();
    assert_eq!(created["user"]["username"], "bob");
    let bob_id = created["user"]["id"].as_u64().expect("id");
    app.login("bob").await;

    let list = cli.json(&["users", "list"]).await;
    assert!(names(&list, "username").contains(&"bob".to_owned()), "{list}");
    assert_eq!(cli.json(&["users", "list", "--limit", "1"]).await.as_array().expect("array").len(), 1);
    let human = cli.run(&["users", "list"]).await;
    human.ok();
    assert!(human.stdout.contains("bob") && human.stdout.contains("admin"), "{human:?}");

    let shown = cli.json(&["users", "show", "bob"]).await;
    assert_eq!(shown["id"], bob_id);
    assert_eq!(cli.json(&["users", "show", &bob_id.to_string()]).await["username"], "bob");

    assert_eq!(cli.json(&["users", "role", "bob", "operator"]).await["role"], "operator");
    assert_eq!(cli.json(&["users", "disable", "bob"]).await["is_active"], false);
    assert_eq!(cli.json(&["users", "enable", "bob"]).await["is_active"], true);
    cli.run(&["users", "role", "bob", "emperor"]).await.code(5);

    let new_password = "Fresh-Passphrase-Number-7";
    let input = format!("{new_password}\n");
    let reset =
        cli.run_with(&["--json", "users", "reset-password", "bob", "--password-stdin"], Some(&input), &[]).await;
    assert!(reset.json()["message"].is_string());
    let body = json!({"username": "bob", "password": new_password});
    app.call(Method::POST, "/api/auth/login", Auth::None, Some(&body)).await.assert_status(StatusCode::OK);

    assert!(cli.json(&["users", "unlock", "bob"]).await["message"].is_string());
    let unlocked = cli.run(&["users", "unlock", "bob"]).await;
    unlocked.ok();

    assert!(cli.json(&["users", "delete", "bob", "--yes"]).await["message"].is_string());
    cli.run(&["users", "show", "bob"]).await.code(4);
    cli.run(&["users", "show", &bob_id.to_string()]).await.code(4);
    // Refused without a terminal to confirm on.
    cli.run(&["users", "delete", "admin"]).await.code(1);
}
