//! What every command shares: complete help and completions, exit codes that
//! tell failures apart, lists that follow cursors to their end.

use krv_tests::ServerGuard;
use serde_json::{Value, json};

use super::{Cli, admin_shell, names};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_is_complete_and_completions_are_generated() {
    let cli = Cli::new("http://127.0.0.1:9");
    let help = cli.run(&["--help"]).await;
    help.ok();
    for group in ["auth", "users", "invite", "groups", "tasks", "vps", "audit", "completions", "--host", "--json"] {
        assert!(help.stdout.contains(group), "--help lacks {group}: {}", help.stdout);
    }
    let commands: &[&[&str]] = &[
        &["auth"],
        &["auth", "login"],
        &["auth", "logout"],
        &["auth", "status"],
        &["auth", "password"],
        &["auth", "token"],
        &["auth", "token", "create"],
        &["auth", "token", "list"],
        &["auth", "token", "revoke"],
        &["users"],
        &["users", "list"],
        &["users", "show"],
        &["users", "create"],
        &["users", "role"],
        &["users", "enable"],
        &["users", "disable"],
        &["users", "delete"],
        &["users", "reset-password"],
        &["users", "unlock"],
        &["invite"],
        &["invite", "create"],
        &["invite", "list"],
        &["invite", "revoke"],
        &["groups"],
        &["groups", "list"],
        &["groups", "create"],
        &["groups", "delete"],
        &["groups", "add-member"],
        &["groups", "remove-member"],
        &["groups", "members"],
        &["tasks"],
        &["tasks", "list"],
        &["tasks", "show"],
        &["tasks", "pending"],
        &["tasks", "approve"],
        &["tasks", "reject"],
        &["tasks", "cancel"],
        &["vps"],
        &["vps", "assign"],
        &["vps", "unassign"],
        &["vps", "assignments"],
        &["vps", "my"],
        &["audit"],
        &["completions"],
    ];
    for path in commands {
        let mut args = path.to_vec();
        args.push("--help");
        let run = cli.run(&args).await;
        run.ok();
        assert!(run.stdout.contains("Usage: kohakuriver"), "{path:?}: {}", run.stdout);
        assert!(run.stdout.lines().next().is_some_and(|l| !l.trim().is_empty()), "{path:?} has no description");
    }
    let login_help = cli.run(&["auth", "login", "--help"]).await;
    for flag in ["--username", "--password", "--password-stdin", "--token", "--token-name", "scripts"] {
        assert!(login_help.stdout.contains(flag), "login help lacks {flag}");
    }

    let bash = cli.run(&["completions", "bash"]).await;
    bash.ok();
    assert!(bash.stdout.contains("_kohakuriver") && bash.stdout.contains("complete "), "{}", bash.stdout);
    cli.run(&["completions", "zsh"]).await.ok();
    cli.run(&["completions", "fish"]).await.ok();
    cli.run(&["completions", "tcsh-ish"]).await.code(2);
    cli.run(&["users", "role", "bob"]).await.code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_failures_apart() {
    let (_app, _guard, _admin, cli) = admin_shell().await;

    let bogus = [("KOHAKURIVER_TOKEN", "krv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];
    cli.run_with(&["auth", "status"], None, &bogus).await.code(3);
    cli.run_with(&["users", "list"], None, &bogus).await.code(3);
    cli.run(&["users", "show", "999999"]).await.code(4);
    cli.run(&["users", "show", "nobody"]).await.code(4);
    cli.run(&["groups", "create", "g"]).await.ok();
    cli.run(&["groups", "create", "g"]).await.code(5);

    // `--host host:port` means http and finds the credentials stored for the URL.
    let bare = cli.url.trim_start_matches("http://").to_owned();
    let users = cli.run_with(&["--json", "--host", &bare, "users", "list"], None, &[("KOHAKURIVER_HOST", "")]).await;
    assert!(names(&users.json(), "username").contains(&"admin".to_owned()));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let run = cli.run_with(&["users", "list"], None, &[("KOHAKURIVER_HOST", &dead)]).await;
    run.code(6);
    assert!(run.stderr.contains(&dead), "the message names the URL: {run:?}");

    // Without any credentials the server's refusal is an auth failure too.
    let anonymous = Cli::new(&cli.url);
    let run = anonymous.run(&["users", "list"]).await;
    run.code(3);
    assert!(run.stderr.contains("auth login"), "{run:?}");
}

/// A stand-in server whose lists page the way the service's may: `/api/tasks`
/// hands out two empty pages that still carry a cursor before its last item
/// (a page is short or empty when the service's cap on examined items ends
/// it); `/api/auth/users` answers with the cursor it was given; and
/// `/api/auth/tokens` never stops handing out new cursors.
async fn paging_server() -> (String, ServerGuard) {
    use axum::extract::Query;
    use axum::response::IntoResponse;
    use std::collections::HashMap;

    fn page(items: Value, next: Option<String>) -> axum::response::Response {
        let mut response = axum::Json(items).into_response();
        if let Some(next) = next {
            response.headers_mut().insert("x-next-cursor", next.parse().expect("header value"));
        }
        response
    }
    let tasks = |Query(q): Query<HashMap<String, String>>| async move {
        match q.get("cursor").map(String::as_str) {
            None => page(json!([{"task_id": "3"}]), Some("a".into())),
            Some("a") => page(json!([]), Some("b".into())),
            Some("b") => page(json!([]), Some("c".into())),
            Some("c") => page(json!([{"task_id": "1"}]), None),
            Some(other) => panic!("unexpected cursor {other}"),
        }
    };
    let stuck = |Query(q): Query<HashMap<String, String>>| async move {
        let next = q.get("cursor").cloned().unwrap_or_else(|| "same".into());
        page(json!([]), Some(next))
    };
    let endless = |Query(q): Query<HashMap<String, String>>| async move {
        let n: u64 = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        page(json!([]), Some((n + 1).to_string()))
    };
    let router = axum::Router::new()
        .route("/api/tasks", axum::routing::get(tasks))
        .route("/api/auth/users", axum::routing::get(stuck))
        .route("/api/auth/tokens", axum::routing::get(endless));
    krv_tests::app::serve(router).await
}

/// A list is complete only when a page has no cursor: empty pages with one
/// are followed, and a server that never ends a list fails the command
/// (exit 6) instead of looping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_cursors_past_empty_pages_and_stop_a_server_that_never_ends() {
    let (url, _guard) = paging_server().await;
    let cli = Cli::new(&url);
    let token = [("KOHAKURIVER_TOKEN", "krv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")];

    let tasks = cli.run_with(&["--json", "tasks", "list"], None, &token).await;
    assert_eq!(names(&tasks.json(), "task_id"), vec!["3", "1"], "every page, empty ones included");

    let stuck = cli.run_with(&["users", "list"], None, &token).await;
    stuck.code(6);
    assert!(stuck.stderr.contains("does not advance"), "{stuck:?}");

    let started = std::time::Instant::now();
    let endless = cli.run_with(&["auth", "token", "list"], None, &token).await;
    endless.code(6);
    assert!(endless.stderr.contains("after 10000"), "{endless:?}");
    eprintln!("10,000 empty pages took {:?}", started.elapsed());
}
