//! Invitations, groups, tasks, VPS and the audit log from the command line.

use http::{Method, StatusCode};
use krv_tests::{Auth, PASSWORD};
use serde_json::json;

use super::{admin_shell, names};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_commands_print_the_code_and_the_register_url() {
    let (app, _guard, _admin, cli) = admin_shell().await;
    cli.run(&["groups", "create", "gpu"]).await.ok();

    let created = cli
        .json(&["invite", "create", "--role", "viewer", "--group", "gpu", "--max-uses", "2", "--expires-hours", "5"])
        .await;
    let code = created["code"].as_str().expect("code").to_owned();
    assert!(code.starts_with("inv_"), "{created}");
    assert!(created["register_url"].as_str().expect("url").contains(&code), "{created}");
    assert_eq!(created["max_uses"], 2);

    let human = cli.run(&["invite", "create"]).await;
    human.ok();
    assert!(human.stdout.contains("inv_") && human.stdout.contains("register?token="), "{human:?}");

    let list = cli.json(&["invite", "list"]).await;
    assert_eq!(list.as_array().expect("array").len(), 2, "{list}");
    let id = created["id"].as_u64().expect("id");
    assert!(list.as_array().expect("array").iter().any(|i| i["id"] == id && i["role"] == "viewer"));
    let listed = cli.run(&["invite", "list"]).await;
    listed.ok();
    assert!(!listed.stdout.contains(&code), "codes are never listed");

    cli.json(&["invite", "revoke", &id.to_string()]).await;
    let body = json!({"username": "newbie", "password": PASSWORD, "invitation_code": code});
    let refused = app.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a revoked code stops working");
    cli.run(&["invite", "revoke", "999999"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commands_manage_groups_and_members() {
    let (app, _guard, admin, cli) = admin_shell().await;
    app.create_user(&admin, "alice", "user").await;

    let group = cli.json(&["groups", "create", "gpu", "--description", "GPU users"]).await;
    assert_eq!(group["name"], "gpu");
    let gid = group["id"].as_u64().expect("id");
    cli.run(&["groups", "create", "GPU"]).await.code(5);
    assert_eq!(names(&cli.json(&["groups", "list"]).await, "name"), vec!["gpu".to_owned()]);

    assert_eq!(cli.json(&["groups", "add-member", "gpu", "alice"]).await["added"], true);
    let members = cli.json(&["groups", "members", &gid.to_string()]).await;
    assert_eq!(names(&members, "username"), vec!["alice".to_owned()]);
    let human = cli.run(&["groups", "list"]).await;
    human.ok();
    assert!(human.stdout.contains("GPU users"), "{human:?}");

    cli.json(&["groups", "remove-member", "gpu", "alice"]).await;
    assert_eq!(cli.json(&["groups", "members", "gpu"]).await, json!([]));
    cli.run(&["groups", "remove-member", "gpu", "alice"]).await.code(4);

    cli.json(&["groups", "delete", "gpu"]).await;
    assert_eq!(cli.json(&["groups", "list"]).await, json!([]));
    cli.run(&["groups", "delete", "gpu"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_commands_list_and_decide() {
    let (app, _guard, admin, cli) = admin_shell().await;
    app.create_user(&admin, "alice", "user").await;
    let alice = app.login("alice").await;
    let first = app.submit_task(Auth::Bearer(&alice), &json!({"command": "make one"})).await;
    let second = app.submit_task(Auth::Bearer(&alice), &json!({"command": "make two"})).await;
    let third = app.submit_task(Auth::Bearer(&alice), &json!({"command": "make three"})).await;

    assert_eq!(cli.json(&["tasks", "list"]).await.as_array().expect("array").len(), 3);
    let filtered =
        cli.json(&["tasks", "list", "--status", "pending_approval", "--owner", "alice", "--type", "command"]).await;
    assert_eq!(filtered.as_array().expect("array").len(), 3);
    assert_eq!(cli.json(&["tasks", "show", &first]).await["task_id"], first.as_str());
    let pending = cli.json(&["tasks", "pending"]).await;
    assert_eq!(names(&pending, "task_id"), vec![first.clone(), second.clone(), third.clone()], "oldest first");
    let human = cli.run(&["tasks", "pending"]).await;
    human.ok();
    assert!(human.stdout.contains(&first), "{human:?}");

    let approved = cli.json(&["tasks", "approve", &first]).await;
    assert_eq!(approved["task"]["status"], "assigning", "{approved}");
    let rejected = cli.json(&["tasks", "reject", &second, "--reason", "too big"]).await;
    assert_eq!(rejected["reason"], "too big");
    cli.json(&["tasks", "cancel", &third]).await;
    assert_eq!(cli.json(&["tasks", "show", &third]).await["status"], "cancelled");
    assert_eq!(cli.json(&["tasks", "pending"]).await, json!([]));

    cli.run(&["tasks", "approve", &first]).await.code(5);
    cli.run(&["tasks", "show", "424242"]).await.code(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vps_commands_assign_and_unassign() {
    let (app, _guard, admin, cli) = admin_shell().await;
    let alice_id = app.create_user(&admin, "alice", "user").await;
    let alice = app.login("alice").await;
    let (alice_token, _) = app.create_token(&alice, "alice-ci").await;
    let vps = app
        .submit_task(Auth::Bearer(&admin), &json!({"task_type": "vps", "command": "ssh-ed25519 AAAA", "name": "box"}))
        .await;
    cli.run(&["groups", "create", "gpu"]).await.ok();

    let assigned = cli.json(&["vps", "assign", &vps, "--user", "alice", "--group", "gpu"]).await;
    assert_eq!(assigned["task_id"], vps.as_str(), "{assigned}");
    let assignments = cli.json(&["vps", "assignments", &vps]).await;
    assert_eq!(assignments["assignments"][0]["user_id"], alice_id, "{assignments}");
    assert_eq!(assignments["group_assignments"][0]["name"], "gpu", "{assignments}");
    let human = cli.run(&["vps", "assignments", &vps]).await;
    human.ok();
    assert!(human.stdout.contains("alice") && human.stdout.contains("gpu"), "{human:?}");

    let mine = cli.run_with(&["--json", "vps", "my"], None, &[("KOHAKURIVER_TOKEN", &alice_token)]).await.json();
    assert_eq!(names(&mine, "task_id"), vec![vps.clone()]);

    let unassigned = cli.json(&["vps", "unassign", &vps, "--user", "alice", "--group", "gpu"]).await;
    assert_eq!(unassigned["unassigned_users"], json!([alice_id]));
    let assignments = cli.json(&["vps", "assignments", &vps]).await;
    assert_eq!(assignments["assignments"], json!([]));
    assert_eq!(assignments["group_assignments"], json!([]));
    cli.run(&["vps", "unassign", &vps, "--user", "alice"]).await.code(4);
    let mine = cli.run_with(&["--json", "vps", "my"], None, &[("KOHAKURIVER_TOKEN", &alice_token)]).await.json();
    assert_eq!(mine, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_command_reads_the_log() {
    let (app, _guard, admin, cli) = admin_shell().await;
    app.create_user(&admin, "alice", "user").await;

    let logins = cli.json(&["audit", "--action", "auth.login"]).await;
    let events = logins.as_array().expect("array");
    assert!(!events.is_empty(), "{logins}");
    assert!(events.iter().all(|e| e["action"] == "auth.login"), "{logins}");
    assert!(events.iter().any(|e| e["actor"] == "admin"), "{logins}");
    assert_eq!(cli.json(&["audit", "--limit", "1"]).await.as_array().expect("array").len(), 1);
    let by_admin = cli.json(&["audit", "--actor", "admin", "--action", "user.create"]).await;
    assert_eq!(by_admin.as_array().expect("array").len(), 1, "{by_admin}");
    let human = cli.run(&["audit"]).await;
    human.ok();
    assert!(human.stdout.contains("user.create"), "{human:?}");
    cli.run(&["audit", "--since", "yesterday"]).await.code(5);

    // Not for users.
    let alice = app.login("alice").await;
    let (token, _) = app.create_token(&alice, "t").await;
    cli.run_with(&["audit"], None, &[("KOHAKURIVER_TOKEN", &token)]).await.code(3);
}
