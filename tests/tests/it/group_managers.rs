//! Group managers: an admin makes them; they change their group's members at
//! or below `user`, invite into it, see and decide its members' tasks, and
//! nothing else; their rights end at once, in-flight writes included.

use std::time::Instant;

use http::{Method, StatusCode};
use krv_tests::{Auth, SYSTEM, TestApp};
use serde_json::{Value, json};
use shared::audit::{AuditEvent, Outcome};
use shared::db::StoreError;
use shared::tasks::{self, Change, TaskStatus, TransitionError};
use shared::types::{Role, Timestamp};

fn manager_path(group: u64, user: u64) -> String {
    format!("/api/auth/groups/{group}/managers/{user}")
}

fn member_path(group: u64, user: u64) -> String {
    format!("/api/auth/groups/{group}/members/{user}")
}

/// Makes `user` a manager of `group` as the system admin.
async fn make_manager(app: &TestApp, group: u64, user: u64) -> Value {
    let made = app.call(Method::PUT, &manager_path(group, user), SYSTEM, None).await;
    made.assert_status(StatusCode::OK);
    made.json()
}

/// An audit event by user `id` acting as a manager of `group`, as the handlers
/// make it: for writes whose authorization was decided before a removal.
fn manager_event(id: u64, name: &str, group: u64, action: &'static str) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        at: Timestamp::now(),
        actor: name.to_owned(),
        actor_id: Some(id),
        actor_must_hold: Some(Role::Viewer),
        actor_manages: Some(group),
        actor_manages_member: None,
        action,
        target: None,
        outcome: Outcome::Success,
        reason: None,
        detail: None,
        client: None,
        request_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_make_and_unmake_managers_and_the_group_shows_them() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let operator = app.create_user(&admin, "olga", "operator").await;
    let mia = app.create_user(&admin, "mia", "user").await;
    let gid = app.create_group(Auth::Bearer(&admin), "render").await;

    // Only admins make managers.
    let olga = app.login("olga").await;
    app.call(Method::PUT, &manager_path(gid, mia), Auth::Bearer(&olga), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    // A user who is not a member becomes one in the same write.
    let made = app.call(Method::PUT, &manager_path(gid, mia), Auth::Bearer(&admin), None).await;
    made.assert_status(StatusCode::OK);
    assert_eq!(made.json()["joined"], true);
    let again = app.call(Method::PUT, &manager_path(gid, mia), Auth::Bearer(&admin), None).await.json();
    assert_eq!(again["joined"], false, "idempotent: {again}");
    let group = app.call(Method::GET, &format!("/api/auth/groups/{gid}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(group["member_count"], 1);
    assert_eq!(group["manager_ids"], json!([mia]));
    let members =
        app.call(Method::GET, &format!("/api/auth/groups/{gid}/members"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(members[0]["id"], mia);
    assert_eq!(members[0]["manager"], true);
    // The manager's own view says so.
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&app.login("mia").await), None).await.json();
    assert_eq!(me["groups"], json!([{"id": gid, "name": "render", "manager": true}]));

    app.call(Method::PUT, &manager_path(gid, 999_999), Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::PUT, &manager_path(999_999, mia), Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    // Unmaking keeps the membership.
    app.call(Method::DELETE, &manager_path(gid, mia), Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &manager_path(gid, mia), Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let group = app.call(Method::GET, &format!("/api/auth/groups/{gid}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(group["member_count"], 1);
    assert_eq!(group["manager_ids"], json!([]));
    let me = app.call(Method::GET, "/api/auth/me", Auth::Bearer(&app.login("mia").await), None).await.json();
    assert_eq!(me["groups"], json!([{"id": gid, "name": "render"}]));
    // An operator may be made a manager too; removing the member ends the flag with the membership.
    make_manager(&app, gid, operator).await;
    app.call(Method::DELETE, &member_path(gid, operator), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    app.add_member(Auth::Bearer(&admin), gid, operator).await;
    let group = app.call(Method::GET, &format!("/api/auth/groups/{gid}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(group["manager_ids"], json!([]), "a re-added member is no manager: {group}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_changes_members_at_or_below_user_of_their_group_only() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let manager = app.create_user(&admin, "mgr", "user").await;
    let co_manager = app.create_user(&admin, "comgr", "user").await;
    let alice = app.create_user(&admin, "alice", "user").await;
    let vera = app.create_user(&admin, "vera", "viewer").await;
    let olga = app.create_user(&admin, "olga", "operator").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    let other = app.create_group(Auth::Bearer(&admin), "other").await;
    make_manager(&app, gid, manager).await;
    make_manager(&app, gid, co_manager).await;
    let mgr = app.login("mgr").await;
    let me = Auth::Bearer(&mgr);

    app.call(Method::PUT, &member_path(gid, alice), me, None).await.assert_status(StatusCode::OK);
    app.call(Method::PUT, &member_path(gid, vera), me, None).await.assert_status(StatusCode::OK);
    app.call(Method::PUT, &member_path(gid, olga), me, None).await.assert_error(StatusCode::FORBIDDEN, "target_role");
    app.call(Method::PUT, &member_path(gid, 999_999), me, None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::DELETE, &member_path(gid, co_manager), me, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "target_is_manager");
    app.call(Method::DELETE, &member_path(gid, vera), me, None).await.assert_status(StatusCode::OK);
    // Another group is not theirs.
    app.call(Method::PUT, &member_path(other, alice), me, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_manager");
    app.call(Method::GET, &format!("/api/auth/groups/{other}"), me, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_manager");
    // They read their own group and its members, and nothing admin-wide.
    let members = app.call(Method::GET, &format!("/api/auth/groups/{gid}/members"), me, None).await.json();
    let ids: Vec<u64> = members.as_array().expect("array").iter().filter_map(|m| m["id"].as_u64()).collect();
    assert_eq!(ids.len(), 3, "{members}");
    assert!(ids.contains(&alice) && !ids.contains(&vera));
    app.call(Method::GET, "/api/auth/groups", me, None).await.assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    // Never roles, never the group itself.
    app.set_role(me, alice, "viewer").await.assert_status(StatusCode::FORBIDDEN);
    app.call(Method::PATCH, &format!("/api/auth/groups/{gid}"), me, Some(&json!({"name": "mine"})))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.call(Method::PUT, &manager_path(gid, alice), me, None).await.assert_status(StatusCode::FORBIDDEN);

    // A plain member has none of this; a viewer's flag is dormant.
    let alice_session = app.login("alice").await;
    app.call(Method::PUT, &member_path(gid, vera), Auth::Bearer(&alice_session), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_manager");
    make_manager(&app, gid, vera).await;
    let vera_session = app.login("vera").await;
    app.call(Method::DELETE, &member_path(gid, alice), Auth::Bearer(&vera_session), None)
        .await
        .assert_status(StatusCode::FORBIDDEN);

    // Demoted to viewer, the manager's rights end on the next request.
    app.set_role(SYSTEM, manager, "viewer").await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &member_path(gid, alice), me, None).await.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_and_decides_their_members_tasks_and_no_others() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let manager = app.create_user(&admin, "mgr", "user").await;
    let alice = app.create_user(&admin, "alice", "user").await;
    app.create_user(&admin, "bob", "user").await;
    app.create_user(&admin, "olga", "operator").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    let other = app.create_group(Auth::Bearer(&admin), "other").await;
    make_manager(&app, gid, manager).await;
    app.add_member(Auth::Bearer(&admin), gid, alice).await;
    let (alice_s, bob_s, mgr_s) = (app.login("alice").await, app.login("bob").await, app.login("mgr").await);
    let me = Auth::Bearer(&mgr_s);
    let a1 = app.submit_task(Auth::Bearer(&alice_s), &json!({"command": "train", "arguments": ["--secret"]})).await;
    let a2 = app.submit_task(Auth::Bearer(&alice_s), &json!({"command": "eval"})).await;
    let a3 = app.submit_task(Auth::Bearer(&alice_s), &json!({"command": "late"})).await;
    let b1 = app.submit_task(Auth::Bearer(&bob_s), &json!({"command": "private"})).await;
    let own = app.submit_task(me, &json!({"command": "mine"})).await;

    // In full for the members' tasks, redacted for others'.
    let seen = app.call(Method::GET, &format!("/api/tasks/{a1}"), me, None).await.json();
    assert_eq!((seen["redacted"].clone(), seen["command"].clone()), (json!(false), json!("train")), "{seen}");
    let seen = app.call(Method::GET, &format!("/api/tasks/{b1}"), me, None).await.json();
    assert_eq!(seen["redacted"], true, "{seen}");
    let list = app.call(Method::GET, "/api/tasks", me, None).await.json();
    for task in list.as_array().expect("array") {
        let id = task["task_id"].as_str().expect("id");
        let full = [a1.as_str(), a2.as_str(), a3.as_str(), own.as_str()].contains(&id);
        assert_eq!(task["redacted"], !full, "{task}");
    }

    // The queue: the groups they manage, all of them or one.
    let pending_ids = |v: Value| -> Vec<String> {
        v.as_array().expect("array").iter().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect()
    };
    let theirs = vec![a1.clone(), a2.clone(), a3.clone()];
    assert_eq!(pending_ids(app.call(Method::GET, "/api/tasks/pending-approval", me, None).await.json()), theirs);
    let filtered = format!("/api/tasks/pending-approval?group={gid}");
    assert_eq!(pending_ids(app.call(Method::GET, &filtered, me, None).await.json()), theirs);
    let paged = app.call(Method::GET, &format!("{filtered}&limit=2"), me, None).await;
    assert_eq!(pending_ids(paged.json()), theirs[..2]);
    let cursor = paged.header("x-next-cursor").expect("more").to_owned();
    let rest = app.call(Method::GET, &format!("{filtered}&limit=2&cursor={cursor}"), me, None).await;
    assert_eq!(pending_ids(rest.json()), theirs[2..]);
    app.call(Method::GET, &format!("/api/tasks/pending-approval?group={other}"), me, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "not_manager");
    app.call(Method::GET, "/api/tasks/pending-approval", Auth::Bearer(&bob_s), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    // Operators may filter too.
    let olga = app.login("olga").await;
    let mut with_own = theirs.clone();
    with_own.push(own.clone());
    assert_eq!(pending_ids(app.call(Method::GET, &filtered, Auth::Bearer(&olga), None).await.json()), with_own);
    let everything = app.call(Method::GET, "/api/tasks/pending-approval", Auth::Bearer(&olga), None).await.json();
    assert_eq!(everything.as_array().map(Vec::len), Some(5));

    // Deciding: their members' tasks only, never their own.
    let approved = app.call(Method::POST, &format!("/api/approve/{a1}"), me, None).await;
    approved.assert_status(StatusCode::OK);
    assert_eq!(approved.json()["task"]["status"], "assigning");
    let rejected = app.call(Method::POST, &format!("/api/reject/{a2}"), me, Some(&json!({"reason": "too big"}))).await;
    rejected.assert_status(StatusCode::OK);
    app.call(Method::POST, &format!("/api/approve/{b1}"), me, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    app.call(Method::POST, &format!("/api/reject/{b1}"), me, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    app.call(Method::POST, &format!("/api/approve/{own}"), me, None).await.assert_status(StatusCode::FORBIDDEN);
    // Plain users keep today's answers.
    app.call(Method::POST, &format!("/api/approve/{a3}"), Auth::Bearer(&bob_s), None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_role");
    // The audit log names the manager.
    let events = app.call(Method::GET, "/api/admin/audit?action=task.approve", SYSTEM, None).await.json();
    assert!(events.as_array().expect("events").iter().any(|e| e["actor"] == "mgr"), "{events}");

    // Unmade, they decide nothing and see their old members' tasks redacted.
    app.call(Method::DELETE, &manager_path(gid, manager), SYSTEM, None).await.assert_status(StatusCode::OK);
    app.call(Method::POST, &format!("/api/approve/{a3}"), me, None).await.assert_status(StatusCode::FORBIDDEN);
    let seen = app.call(Method::GET, &format!("/api/tasks/{a3}"), me, None).await.json();
    assert_eq!(seen["redacted"], true, "{seen}");
    app.call(Method::GET, "/api/tasks/pending-approval", me, None).await.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_invites_users_and_viewers_into_their_group_while_they_manage_it() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let manager = app.create_user(&admin, "mgr", "user").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    let other = app.create_group(Auth::Bearer(&admin), "other").await;
    make_manager(&app, gid, manager).await;
    let mgr = app.login("mgr").await;
    let me = Auth::Bearer(&mgr);

    let code = app.invitation_code(me, &json!({"role": "user", "group_ids": [gid]})).await;
    let viewer_code = app.invitation_code(me, &json!({"role": "viewer", "group_id": gid})).await;
    app.invite(me, &json!({"role": "operator", "group_ids": [gid]}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "role_too_high");
    app.invite(me, &json!({"role": "user", "group_ids": [other]})).await.assert_status(StatusCode::FORBIDDEN);
    app.invite(me, &json!({"role": "user", "group_ids": [gid, other]})).await.assert_status(StatusCode::FORBIDDEN);
    app.invite(me, &json!({"role": "viewer"})).await.assert_status(StatusCode::FORBIDDEN);
    // A plain user still may not invite.
    app.create_user(&admin, "bob", "user").await;
    let bob = app.login("bob").await;
    app.invite(Auth::Bearer(&bob), &json!({"role": "user", "group_ids": [gid]}))
        .await
        .assert_status(StatusCode::FORBIDDEN);

    let registered = app.register_invited("newbie", &code).await;
    registered.assert_status(StatusCode::CREATED);
    let members = app.call(Method::GET, &format!("/api/auth/groups/{gid}/members"), me, None).await.json();
    let newbie = members.as_array().expect("array").iter().find(|m| m["username"] == "newbie").expect("joined");
    assert_eq!(newbie["role"], "user");
    assert_eq!(newbie["manager"], false);

    // Their invitations stop working once they no longer manage the group.
    app.call(Method::DELETE, &manager_path(gid, manager), SYSTEM, None).await.assert_status(StatusCode::OK);
    app.register_invited("latecomer", &viewer_code).await.assert_status(StatusCode::BAD_REQUEST);
    app.invite(me, &json!({"role": "user", "group_ids": [gid]})).await.assert_status(StatusCode::FORBIDDEN);
}

/// Writes authorized while the actor managed the group but committed after
/// the right ended (the handler's check passed on the old state) are refused
/// by the write itself: approvals, member additions and invitations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_decided_before_the_managers_removal_are_refused_when_they_commit() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let manager = app.create_user(&admin, "mgr", "user").await;
    let alice = app.create_user(&admin, "alice", "user").await;
    let bob = app.create_user(&admin, "bob", "user").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    make_manager(&app, gid, manager).await;
    app.add_member(Auth::Bearer(&admin), gid, alice).await;
    let alice_s = app.login("alice").await;
    let task: u64 = app.submit_task(Auth::Bearer(&alice_s), &json!({"command": "x"})).await.parse().expect("id");
    let stores = &app.state.stores;

    // While they manage the group, such a write commits.
    let event = manager_event(manager, "mgr", gid, "group.member_add");
    assert!(shared::groups::add_member(stores, gid, bob, &event).await.expect("added"));

    for end in ["unmake", "remove", "delete_user"] {
        let task_now = tasks::get(stores, task).await.expect("read").expect("task");
        assert_eq!(task_now.status, TaskStatus::PendingApproval);
        match end {
            "unmake" => {
                app.call(Method::DELETE, &manager_path(gid, manager), SYSTEM, None).await.assert_status(StatusCode::OK);
            }
            "remove" => {
                make_manager(&app, gid, manager).await;
                app.call(Method::DELETE, &member_path(gid, manager), SYSTEM, None).await.assert_status(StatusCode::OK);
            }
            _ => {
                make_manager(&app, gid, manager).await;
                app.call(Method::DELETE, &format!("/api/auth/users/{manager}"), SYSTEM, None)
                    .await
                    .assert_status(StatusCode::OK);
            }
        }
        let actor = tasks::Actor { id: Some(manager), username: "mgr".into(), at: Timestamp::now() };
        let event = manager_event(manager, "mgr", gid, "task.approve");
        let refused =
            tasks::transition(stores, task, TaskStatus::PendingApproval, Change::Approve(actor), &event).await;
        assert!(
            matches!(refused, Err(TransitionError::Store(StoreError::ActorRevoked))),
            "{end}: the approval must be refused, got {refused:?}"
        );
        let event = manager_event(manager, "mgr", gid, "group.member_remove");
        let removed = shared::groups::remove_member(stores, gid, bob, Some(&event)).await;
        assert!(
            matches!(removed, Err(shared::groups::GroupError::Store(StoreError::ActorRevoked))),
            "{end}: the removal must be refused, got {removed:?}"
        );
        if end == "delete_user" {
            break;
        }
    }
    let task_now = tasks::get(stores, task).await.expect("read").expect("task");
    assert_eq!(task_now.status, TaskStatus::PendingApproval, "no refused approval landed");
    let members = shared::groups::member_ids(stores, gid).await.expect("members");
    assert!(members.contains(&bob), "no refused removal landed");
}

/// A decision on a member's task, authorized while the owner was a member,
/// commits only if they still are: the owner's removal from the group
/// between the decision and its write ends the manager's right over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_on_a_member_removed_meanwhile_is_refused_when_it_commits() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let manager = app.create_user(&admin, "mgr", "user").await;
    let alice = app.create_user(&admin, "alice", "user").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    make_manager(&app, gid, manager).await;
    app.add_member(Auth::Bearer(&admin), gid, alice).await;
    let alice_s = app.login("alice").await;
    let first: u64 = app.submit_task(Auth::Bearer(&alice_s), &json!({"command": "x"})).await.parse().expect("id");
    let second: u64 = app.submit_task(Auth::Bearer(&alice_s), &json!({"command": "y"})).await.parse().expect("id");
    let stores = &app.state.stores;
    let decide = |task: u64| async move {
        let actor = tasks::Actor { id: Some(manager), username: "mgr".into(), at: Timestamp::now() };
        let mut event = manager_event(manager, "mgr", gid, "task.approve");
        event.actor_manages_member = Some(alice);
        tasks::transition(stores, task, TaskStatus::PendingApproval, Change::Approve(actor), &event).await
    };
    // While alice is a member, the decision commits.
    assert!(decide(first).await.is_ok());
    app.call(Method::DELETE, &member_path(gid, alice), SYSTEM, None).await.assert_status(StatusCode::OK);
    let refused = decide(second).await;
    assert!(matches!(refused, Err(TransitionError::Store(StoreError::ActorRevoked))), "got {refused:?}");
    let task_now = tasks::get(stores, second).await.expect("read").expect("task");
    assert_eq!(task_now.status, TaskStatus::PendingApproval, "the refused approval did not land");
}

/// Many approvals by a manager race an admin's removal of the manager from
/// the group: every approval either committed while they still managed it
/// (so it precedes the removal) or was refused; none lands after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_racing_the_managers_removal_all_precede_it_or_fail() {
    const TASKS: usize = 24;
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let manager = app.create_user(&admin, "mgr", "user").await;
    let alice = app.create_user(&admin, "alice", "user").await;
    let gid = app.create_group(Auth::Bearer(&admin), "team").await;
    make_manager(&app, gid, manager).await;
    app.add_member(Auth::Bearer(&admin), gid, alice).await;
    let alice_s = app.login("alice").await;
    let mut ids = Vec::new();
    for i in 0..TASKS {
        ids.push(app.submit_task(Auth::Bearer(&alice_s), &json!({"command": format!("job {i}")})).await);
    }
    let (mgr_a, mgr_b) = (app.login("mgr").await, other.login("mgr").await);

    // Two streams of approvals (two instances), each one request after another.
    let first_answered = tokio::sync::Notify::new();
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let stream = |instance: &'static str, session: String, mine: Vec<String>| {
        let target = if instance == "a" { &app } else { &other };
        let (first_answered, answered) = (&first_answered, &answered);
        async move {
            let mut answers = Vec::new();
            for id in mine {
                let sent = Instant::now();
                let answer =
                    target.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(&session), None).await;
                if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 4 {
                    first_answered.notify_one();
                }
                let body = answer.json();
                answers.push((id, sent, answer.status, body));
            }
            answers
        }
    };
    let (first_half, second_half) = ids.split_at(TASKS / 2);
    let removal = async {
        // Once approvals are under way (four have been answered).
        first_answered.notified().await;
        let removed = app.call(Method::DELETE, &member_path(gid, manager), SYSTEM, None).await;
        (removed.status, Instant::now())
    };
    let (a, b, (removal_status, removed_at)) =
        tokio::join!(stream("a", mgr_a, first_half.to_vec()), stream("b", mgr_b, second_half.to_vec()), removal);
    assert_eq!(removal_status, StatusCode::OK);

    let mut approved = 0;
    for (id, sent, status, body) in a.into_iter().chain(b) {
        let task = app.call(Method::GET, &format!("/api/tasks/{id}"), SYSTEM, None).await.json();
        match status {
            StatusCode::OK => {
                approved += 1;
                assert_eq!(task["status"], "assigning", "{id}: answered 200, {task}");
                assert!(sent < removed_at, "{id}: an approval sent after the removal committed");
            }
            StatusCode::FORBIDDEN => {
                assert_eq!(task["status"], "pending_approval", "{id}: refused yet changed: {task}");
                assert!(body["detail"].is_string(), "{body}");
            }
            other => panic!("{id}: unexpected {other}: {body}"),
        }
    }
    // Whatever the interleaving: the approved ones are the tasks no longer pending.
    eprintln!("{approved} of {TASKS} approvals committed before the removal");
    assert!(approved >= 4, "the removal waited for four approvals");
    let pending = app.call(Method::GET, "/api/tasks/pending-approval", SYSTEM, None).await.json();
    assert_eq!(pending.as_array().map(Vec::len), Some(TASKS - approved));
    // After the removal, nothing more gets through.
    if let Some(id) = pending.as_array().and_then(|p| p.first()).and_then(|t| t["task_id"].as_str()) {
        let mgr = app.login("mgr").await;
        app.call(Method::POST, &format!("/api/approve/{id}"), Auth::Bearer(&mgr), None)
            .await
            .assert_status(StatusCode::FORBIDDEN);
    }
}
