//! Scoped and resource-limited tokens, the lifetime cap, rotation, the admin
//! token list and service accounts, from the command line (issue #23).

use std::collections::BTreeSet;
use std::time::Duration;

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use serde_json::{Value, json};

use super::{Cli, admin_shell, names};

/// The item of `list` named `name` (under `key`).
#[track_caller]
fn named<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .find(|i| i[key] == name)
        .unwrap_or_else(|| panic!("no {key} {name:?} in {list}"))
}

/// A JSON array of strings as a set (the server's order is its own).
fn set(value: &Value) -> BTreeSet<String> {
    value.as_array().expect("a JSON array").iter().map(|v| v.as_str().expect("a string").to_owned()).collect()
}

fn strings(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `POST /api/auth/tokens` with `body` as `session`; the created token.
async fn create_token(app: &TestApp, session: &str, body: Value) -> Value {
    let created = app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(session), Some(&body)).await;
    created.assert_status(StatusCode::CREATED);
    created.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_with_scopes_resources_and_an_expiry() {
    let (app, _guard, admin, cli) = admin_shell().await;

    // No --scope: the original request, a token with all the owner's rights.
    let plain = cli.json(&["auth", "token", "create", "plain"]).await;
    assert_eq!(plain["scopes"], json!(["inherit"]), "{plain}");
    assert_eq!(plain["resources"], json!([]), "{plain}");
    assert!(plain["expires_at"].is_null(), "{plain}");

    let run = cli
        .run(&["auth", "token", "create", "reader", "--scope", "read", "--resource", "vps:123", "--expires", "30"])
        .await;
    run.ok();
    let secret = run.stdout.trim().to_owned();
    assert!(secret.starts_with("krv_") && !secret.contains(' '), "the token alone is printed: {run:?}");
    assert!(run.stderr.contains("scopes read") && run.stderr.contains("vps:123"), "the scopes are shown: {run:?}");
    assert!(!run.stderr.contains("expires never"), "{run:?}");
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&secret), None).await.assert_status(StatusCode::OK);
    let refused =
        app.call(Method::POST, "/api/auth/tokens", Auth::Bearer(&secret), Some(&json!({"name": "wider"}))).await;
    refused.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["code"], "insufficient_scope", "a read token may not create tokens");

    // Repeated and comma-separated scopes; the original --expires-in-days still works.
    let ops = cli
        .json(&[
            "auth",
            "token",
            "create",
            "ops",
            "--scope",
            "tasks:submit,vps:connect",
            "--scope",
            "read",
            "--expires-in-days",
            "7",
        ])
        .await;
    assert_eq!(set(&ops["scopes"]), strings(&["read", "tasks:submit", "vps:connect"]), "{ops}");
    assert!(ops["expires_at"].is_string(), "{ops}");

    let listed = cli.json(&["auth", "token", "list"]).await;
    let reader = named(&listed, "name", "reader");
    assert_eq!(reader["scopes"], json!(["read"]), "{reader}");
    assert_eq!(reader["resources"], json!(["vps:123"]), "{reader}");
    assert_eq!(named(&listed, "name", "plain")["scopes"], json!(["inherit"]));
    let human = cli.run(&["auth", "token", "list"]).await;
    human.ok();
    for shown in ["SCOPES", "RESOURCES", "vps:123", "tasks:submit", "inherit"] {
        assert!(human.stdout.contains(shown), "{shown} in {human:?}");
    }
    assert!(!human.stdout.contains(&secret), "listing never shows a secret");

    // The server's refusals come through with exit code 5 and its detail.
    let alone = cli.run(&["auth", "token", "create", "bad", "--scope", "inherit,read"]).await;
    alone.code(5);
    assert!(alone.stderr.contains("inherit"), "{alone:?}");
    cli.run(&["auth", "token", "create", "bad", "--scope", "everything"]).await.code(5);
    let resource = cli.run(&["auth", "token", "create", "bad", "--resource", "host:1"]).await;
    resource.code(5);
    assert!(resource.stderr.contains("host:1"), "{resource:?}");
    assert!(!names(&cli.json(&["auth", "token", "list"]).await, "name").contains(&"bad".to_owned()));

    // A scope above the owner's role is refused; a scoped token may not mint a wider one.
    app.create_user(&admin, "alice", "user").await;
    let alice = Cli::new(&cli.url);
    alice.login("alice").await.ok();
    let above = alice.run(&["auth", "token", "create", "boss", "--scope", "users:admin"]).await;
    above.code(5);
    assert!(above.stderr.contains("users:admin"), "{above:?}");
    let minter = alice.json(&["auth", "token", "create", "minter", "--scope", "tokens:manage,read"]).await;
    let minter = minter["token"].as_str().expect("token").to_owned();
    let env = [("KOHAKURIVER_TOKEN", minter.as_str())];
    let narrower =
        alice.run_with(&["--json", "auth", "token", "create", "narrow", "--scope", "read"], None, &env).await;
    assert_eq!(narrower.json()["scopes"], json!(["read"]));
    let wider = alice.run_with(&["auth", "token", "create", "wide", "--scope", "tasks:submit"], None, &env).await;
    wider.code(3);
    assert!(wider.stderr.contains("tasks:submit"), "the missing scope is named: {wider:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifetime_cap_is_applied_and_named() {
    let app = TestApp::builder().env("TOKEN_MAX_LIFETIME_DAYS", "30").build().await;
    let (url, _guard) = app.serve().await;
    app.first_admin("admin").await;
    let cli = Cli::new(&url);
    cli.login("admin").await.ok();

    let over = cli.run(&["auth", "token", "create", "long", "--expires", "90"]).await;
    over.code(5);
    assert!(over.stderr.contains("30 days") && over.stderr.contains("TOKEN_MAX_LIFETIME_DAYS"), "{over:?}");
    cli.run(&["auth", "token", "create", "long", "--expires-in-days", "31"]).await.code(5);

    // Without --expires a token ends with the cap; at the cap it is allowed.
    let capped = cli.json(&["auth", "token", "create", "capped"]).await;
    assert!(capped["expires_at"].is_string(), "{capped}");
    let at_cap = cli.json(&["auth", "token", "create", "monthly", "--expires", "30"]).await;
    assert_eq!(at_cap["expires_at"].as_str().map(|s| &s[..10]), capped["expires_at"].as_str().map(|s| &s[..10]));
    let human = cli.run(&["auth", "token", "create", "human"]).await;
    human.ok();
    assert!(!human.stderr.contains("expires never"), "{human:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_prints_the_new_secret_once_and_the_old_one_works_for_the_overlap() {
    let app = TestApp::builder().env("TOKEN_ROTATION_OVERLAP_SECS", "2").build().await;
    let (url, _guard) = app.serve().await;
    app.first_admin("admin").await;
    let cli = Cli::new(&url);
    cli.login("admin").await.ok();

    let original = cli.run(&["auth", "token", "create", "job", "--scope", "read", "--resource", "task:9"]).await;
    original.ok();
    let original = original.stdout.trim().to_owned();

    let rotated = cli.run(&["auth", "token", "rotate", "job"]).await;
    rotated.ok();
    let first = rotated.stdout.trim().to_owned();
    assert!(first.starts_with("krv_") && first != original, "the new secret alone is printed: {rotated:?}");
    assert!(rotated.stderr.contains("shown only this once"), "{rotated:?}");
    assert!(rotated.stderr.contains("keeps working until 20"), "the overlap's end is stated: {rotated:?}");
    assert!(rotated.stderr.contains("scopes read") && rotated.stderr.contains("task:9"), "{rotated:?}");
    assert_eq!(app.me_status(&original).await, StatusCode::OK, "the old secret works during the overlap");
    assert_eq!(app.me_status(&first).await, StatusCode::OK);

    // By id, with --json: the same token (id, name, scopes, resources), a new secret.
    let listed = cli.json(&["auth", "token", "list"]).await;
    let job = named(&listed, "name", "job").clone();
    let id = job["id"].as_u64().expect("id").to_string();
    let again = cli.json(&["auth", "token", "rotate", &id]).await;
    assert_eq!(again["id"], job["id"]);
    assert_eq!(again["name"], "job");
    assert_eq!(again["scopes"], json!(["read"]));
    assert_eq!(again["resources"], json!(["task:9"]));
    assert!(again["previous_valid_until"].is_string(), "{again}");
    let second = again["token"].as_str().expect("token").to_owned();
    assert_ne!(second, first);

    // Rotating the token this shell stores replaces the stored copy.
    let file: Value = serde_json::from_slice(&std::fs::read(cli.credentials()).expect("file")).expect("JSON");
    let stored_id = file["servers"][&url]["token_id"].as_u64().expect("the login stored the token's id");
    let stored = cli.stored_token();
    let own = cli.run(&["auth", "token", "rotate", &stored_id.to_string()]).await;
    own.ok();
    assert!(own.stderr.contains("credentials file now holds the new secret"), "{own:?}");
    assert_eq!(cli.stored_token(), own.stdout.trim());
    assert_ne!(cli.stored_token(), stored);

    tokio::time::sleep(Duration::from_millis(3500)).await;
    for old in [&original, &first, &stored] {
        assert_eq!(app.me_status(old).await, StatusCode::UNAUTHORIZED, "an old secret ends with the overlap");
    }
    assert_eq!(app.me_status(&second).await, StatusCode::OK);
    assert_eq!(cli.json(&["auth", "status"]).await["username"], "admin", "the stored token still works");

    cli.run(&["auth", "token", "rotate", "no-such-token"]).await.code(4);
    cli.run(&["auth", "token", "rotate", "987654321"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_every_token_with_filters_across_pages() {
    let app = TestApp::start().await;
    let admin = app.with_admin().await;
    let alice = app.with_user("alice", "user").await;
    create_token(&app, &alice.token, json!({"name": "forever"})).await;
    create_token(&app, &alice.token, json!({"name": "soon", "expires_in_days": 3})).await;
    create_token(&app, &alice.token, json!({"name": "reader", "scopes": ["read"], "expires_in_days": 20})).await;
    // More tokens than one page holds (200), spread over users (100 each at most).
    let mut many = BTreeSet::new();
    for user in ["bob", "carol", "dave"] {
        let session = app.with_user(user, "viewer").await.token;
        for i in 0..70 {
            let created = create_token(&app, &session, json!({"name": format!("{user}-{i}")})).await;
            many.insert(created["id"].as_u64().expect("id"));
        }
    }
    // The same stores served with a cap: alice's never-expiring token is past it.
    let capped = app.another_instance_with(&[("TOKEN_MAX_LIFETIME_DAYS", "30")]).await;
    let (url, _guard) = capped.serve().await;
    let cli = Cli::new(&url);
    cli.login(&admin.name).await.ok();

    let all = cli.json(&["auth", "token", "all"]).await;
    assert_eq!(all["max_lifetime_days"], 30, "{}", all["max_lifetime_days"]);
    let tokens = all["tokens"].as_array().expect("tokens");
    let ids: Vec<u64> = tokens.iter().map(|t| t["id"].as_u64().expect("id")).collect();
    let distinct: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "no token twice across pages");
    assert!(many.is_subset(&distinct), "every page was fetched: {} of {} tokens", ids.len(), many.len() + 4);
    let forever = named(&all["tokens"], "name", "forever");
    assert_eq!(forever["username"], "alice");
    assert_eq!(forever["owner_kind"], "human");
    assert_eq!(forever["past_cap"], true, "{forever}");
    assert_eq!(named(&all["tokens"], "name", "soon")["past_cap"], false);
    assert_eq!(cli.json(&["auth", "token", "all", "--limit", "5"]).await["tokens"].as_array().expect("array").len(), 5);

    let mine = cli.json(&["auth", "token", "all", "--owner", "alice"]).await;
    assert_eq!(set(&json!(names(&mine["tokens"], "name"))), strings(&["forever", "soon", "reader"]), "{mine}");
    let by_id = cli.json(&["auth", "token", "all", "--owner", &alice.id.to_string()]).await;
    assert_eq!(by_id["tokens"].as_array().map(Vec::len), Some(3));
    // A scope filter keeps the tokens holding that scope, `inherit` ones included.
    let readers = cli.json(&["auth", "token", "all", "--scope", "read", "--owner", "alice"]).await;
    assert_eq!(set(&json!(names(&readers["tokens"], "name"))), strings(&["forever", "soon", "reader"]));
    let submitters = cli.json(&["auth", "token", "all", "--scope", "tasks:submit", "--owner", "alice"]).await;
    assert_eq!(set(&json!(names(&submitters["tokens"], "name"))), strings(&["forever", "soon"]), "{submitters}");
    let everyone = cli.json(&["auth", "token", "all", "--scope", "read"]).await;
    assert!(names(&everyone["tokens"], "name").contains(&"reader".to_owned()), "{everyone}");
    cli.run(&["auth", "token", "all", "--scope", "everything"]).await.code(5);
    let expiring = cli.json(&["auth", "token", "all", "--expiring-days", "7"]).await;
    assert_eq!(names(&expiring["tokens"], "name"), vec!["soon".to_owned()], "{expiring}");
    let past = cli.json(&["auth", "token", "all", "--past-cap", "--owner", "alice"]).await;
    assert_eq!(names(&past["tokens"], "name"), vec!["forever".to_owned()], "{past}");

    let human = cli.run(&["auth", "token", "all", "--owner", "alice"]).await;
    human.ok();
    for shown in ["OWNER", "SCOPES", "PAST CAP", "alice", "forever", "read"] {
        assert!(human.stdout.contains(shown), "{shown} in {human:?}");
    }
    assert!(human.stderr.contains("30 days"), "the cap is stated: {human:?}");

    cli.run(&["auth", "token", "all", "--owner", "nobody"]).await.code(4);
    let user = Cli::new(&url);
    user.login("alice").await.ok();
    user.run(&["auth", "token", "all"]).await.code(3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_are_created_given_tokens_and_deleted() {
    let (app, _guard, admin, cli) = admin_shell().await;
    let group = app.create_group(Auth::Bearer(&admin), "robots").await;

    let bot = cli
        .json(&[
            "service-account",
            "create",
            "ci-bot",
            "--role",
            "user",
            "--group",
            "robots",
            "--display-name",
            "CI bot",
        ])
        .await;
    assert_eq!(bot["username"], "ci-bot", "{bot}");
    assert_eq!(bot["kind"], "service");
    assert_eq!(bot["role"], "user");
    assert_eq!(bot["group_id"], group);
    assert_eq!(bot["display_name"], "CI bot");
    let bot_id = bot["id"].as_u64().expect("id");
    let backup = cli.run(&["service-account", "create", "backup", "--role", "viewer"]).await;
    backup.ok();
    assert!(backup.stdout.contains("Created service account backup"), "{backup:?}");
    cli.run(&["service-account", "create", "root-bot", "--role", "admin"]).await.code(5);
    cli.run(&["service-account", "create", "lost-bot", "--role", "user", "--group", "nowhere"]).await.code(4);

    let listed = cli.json(&["service-account", "list"]).await;
    assert_eq!(set(&json!(names(&listed, "username"))), strings(&["ci-bot", "backup"]), "{listed}");
    let human = cli.run(&["service-account", "list"]).await;
    human.ok();
    for shown in ["ci-bot", "backup", "robots", "CI bot"] {
        assert!(human.stdout.contains(shown), "{shown} in {human:?}");
    }

    // A token minted for it: printed once, acting as the account.
    let minted = cli
        .run(&["service-account", "token", "ci-bot", "deploy", "--scope", "tasks:submit,read", "--expires", "10"])
        .await;
    minted.ok();
    let deploy = minted.stdout.trim().to_owned();
    assert!(deploy.starts_with("krv_"), "{minted:?}");
    assert!(minted.stderr.contains("service account ci-bot") && minted.stderr.contains("tasks:submit"), "{minted:?}");
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&deploy), None).await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["username"], "ci-bot");
    let full = cli.json(&["service-account", "token", &bot_id.to_string(), "full"]).await;
    assert_eq!(full["scopes"], json!(["inherit"]), "{full}");
    let full = full["token"].as_str().expect("token").to_owned();
    // Neither can it mint its own tokens nor log in with a password.
    let own = Cli::new(&cli.url);
    let refused = own.run_with(&["auth", "token", "create", "mine"], None, &[("KOHAKURIVER_TOKEN", &full)]).await;
    refused.code(3);
    assert!(refused.stderr.contains("service account"), "{refused:?}");
    own.login("ci-bot").await.code(3);

    let tokens = cli.json(&["auth", "token", "all", "--owner", "ci-bot"]).await;
    assert_eq!(set(&json!(names(&tokens["tokens"], "name"))), strings(&["deploy", "full"]), "{tokens}");
    assert!(tokens["tokens"].as_array().expect("array").iter().all(|t| t["owner_kind"] == "service"), "{tokens}");

    // Deleting asks first; then the account's tokens stop working.
    cli.run(&["service-account", "delete", "ci-bot"]).await.code(1);
    assert_eq!(app.me_status(&deploy).await, StatusCode::OK, "nothing was deleted without confirmation");
    let deleted = cli.json(&["service-account", "delete", "ci-bot", "--yes"]).await;
    assert!(deleted["message"].is_string(), "{deleted}");
    assert_eq!(app.me_status(&deploy).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_status(&full).await, StatusCode::UNAUTHORIZED);
    assert_eq!(names(&cli.json(&["service-account", "list"]).await, "username"), vec!["backup".to_owned()]);
    cli.run(&["service-account", "delete", "ci-bot", "--yes"]).await.code(4);
    cli.run(&["service-account", "token", "ci-bot", "late"]).await.code(4);

    // Admins only.
    app.create_user(&admin, "alice", "operator").await;
    let alice = Cli::new(&cli.url);
    alice.login("alice").await.ok();
    alice.run(&["service-account", "list"]).await.code(3);
    alice.run(&["service-account", "create", "sneaky", "--role", "viewer"]).await.code(3);
}
