//! Group managers from the command line: an admin makes them, a manager runs
//! their group's members and approval queue.

use krv_tests::Auth;
use serde_json::json;

use super::{Cli, admin_shell, names};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_are_made_by_admins_and_work_their_groups_queue() {
    let (app, guard, admin, cli) = admin_shell().await;
    let _guard = guard;
    app.create_user(&admin, "mgr", "user").await;
    let alice_id = app.create_user(&admin, "alice", "user").await.to_string();
    app.create_user(&admin, "bob", "user").await;
    cli.run(&["groups", "create", "team"]).await.ok();
    cli.run(&["groups", "create", "other"]).await.ok();

    // The admin makes a non-member a manager (and so a member).
    let made = cli.json(&["groups", "managers", "add", "team", "mgr"]).await;
    assert_eq!(made["joined"], true, "{made}");
    let members = cli.json(&["groups", "members", "team"]).await;
    assert_eq!(
        members,
        json!([{"id": members[0]["id"], "username": "mgr", "display_name": "mgr", "role": "user", "is_active": true, "manager": true}])
    );
    let human = cli.run(&["groups", "members", "team"]).await;
    human.ok();
    assert!(human.stdout.contains("MANAGER"), "{human:?}");

    // The manager, in their own shell, adds a member (users by id: a manager
    // may not list users) to the group named and works the queue.
    let shell = Cli::new(&cli.url);
    shell.login("mgr").await.ok();
    shell.json(&["groups", "add-member", "team", &alice_id]).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let task = app.submit_task(Auth::Bearer(&alice), &json!({"command": "train"})).await;
    app.submit_task(Auth::Bearer(&bob), &json!({"command": "not theirs"})).await;
    let queue = shell.json(&["tasks", "pending", "--group", "team"]).await;
    assert_eq!(names(&queue, "task_id"), vec![task.clone()]);
    assert_eq!(names(&shell.json(&["tasks", "pending"]).await, "task_id"), vec![task.clone()]);
    shell.run(&["tasks", "pending", "--group", "other"]).await.code(3);
    let approved = shell.json(&["tasks", "approve", &task]).await;
    assert_eq!(approved["task"]["status"], "assigning", "{approved}");
    // Operators filter the queue by group too.
    assert_eq!(cli.json(&["tasks", "pending", "--group", "team"]).await, json!([]));

    // Unmade, the manager stays a member but may no longer change members.
    cli.json(&["groups", "managers", "remove", "team", "mgr"]).await;
    cli.run(&["groups", "managers", "remove", "team", "mgr"]).await.code(4);
    shell.run(&["groups", "remove-member", "team", &alice_id]).await.code(3);
    let members = cli.json(&["groups", "members", "team"]).await;
    assert_eq!(names(&members, "username"), vec!["mgr".to_owned(), "alice".to_owned()]);
}
