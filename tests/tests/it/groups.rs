//! Groups: CRUD, membership, and the cleanup when a group or a user goes.

use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_created_read_renamed_and_deleted_with_unique_names() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let created = app.post_group(Auth::Bearer(&admin), &json!({"name": "ML Team", "description": "GPU users"})).await;
    created.assert_status(StatusCode::CREATED);
    let group = created.json();
    let id = group["id"].as_u64().expect("integer id");
    assert_eq!(group["member_count"], 0);
    assert!(group["created_at"].is_string());
    app.post_group(Auth::Bearer(&admin), &json!({"name": "ml team"}))
        .await
        .assert_error(StatusCode::CONFLICT, "group_name_taken");
    app.post_group(Auth::Bearer(&admin), &json!({"name": ""}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let other = app.post_group(Auth::Bearer(&admin), &json!({"name": "Ops"})).await.json();

    let path = format!("/api/auth/groups/{id}");
    let fetched = app.call(Method::GET, &path, Auth::Bearer(&admin), None).await.json();
    assert_eq!(fetched["description"], "GPU users");
    let renamed = app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"name": "Research"}))).await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["name"], "Research");
    app.call(Method::PATCH, &path, Auth::Bearer(&admin), Some(&json!({"name": "OPS"})))
        .await
        .assert_error(StatusCode::CONFLICT, "group_name_taken");
    // The old name is free again.
    app.post_group(Auth::Bearer(&admin), &json!({"name": "ML Team"})).await.assert_status(StatusCode::CREATED);

    let page = app.call(Method::GET, "/api/auth/groups?limit=2", Auth::Bearer(&admin), None).await;
    assert_eq!(page.json().as_array().map(Vec::len), Some(2));
    let cursor = page.header("x-next-cursor").expect("more").to_owned();
    let rest = app
        .call(Method::GET, &format!("/api/auth/groups?limit=2&cursor={cursor}"), Auth::Bearer(&admin), None)
        .await
        .json();
    assert_eq!(rest.as_array().map(Vec::len), Some(1));

    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    app.call(Method::GET, &path, Auth::Bearer(&admin), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    assert!(other["id"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_show_on_the_next_request_everywhere() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let uid = app.create_user(&admin, "mia", "user").await;
    let mia = other.login("mia").await;
    let gid = app.post_group(Auth::Bearer(&admin), &json!({"name": "render"})).await.json()["id"].as_u64().expect("id");
    let member_path = format!("/api/auth/groups/{gid}/members/{uid}");

    let added = app.call(Method::PUT, &member_path, Auth::Bearer(&admin), None).await;
    added.assert_status(StatusCode::OK);
    assert_eq!(added.json()["added"], true);
    let again = app.call(Method::PUT, &member_path, Auth::Bearer(&admin), None).await;
    assert_eq!(again.json()["added"], false, "adding twice is harmless");
    let me = other.call(Method::GET, "/api/auth/me", Auth::Bearer(&mia), None).await.json();
    assert_eq!(me["groups"], json!([{"id": gid, "name": "render"}]));
    let group = app.call(Method::GET, &format!("/api/auth/groups/{gid}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(group["member_count"], 1);
    let members =
        app.call(Method::GET, &format!("/api/auth/groups/{gid}/members"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(members[0]["username"], "mia");
    let users = app.call(Method::GET, "/api/auth/users", Auth::Bearer(&admin), None).await.json();
    let listed = users.as_array().expect("array").iter().find(|u| u["username"] == "mia").expect("mia");
    assert_eq!(listed["groups"], json!([{"id": gid, "name": "render"}]));

    // A rename shows up too.
    app.call(
        Method::PATCH,
        &format!("/api/auth/groups/{gid}"),
        Auth::Bearer(&admin),
        Some(&json!({"name": "rendering"})),
    )
    .await
    .assert_status(StatusCode::OK);
    let me = other.call(Method::GET, "/api/auth/me", Auth::Bearer(&mia), None).await.json();
    assert_eq!(me["groups"][0]["name"], "rendering");

    app.call(Method::DELETE, &member_path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &member_path, Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let me = other.call(Method::GET, "/api/auth/me", Auth::Bearer(&mia), None).await.json();
    assert_eq!(me["groups"], json!([]));
    let group = app.call(Method::GET, &format!("/api/auth/groups/{gid}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(group["member_count"], 0);

    app.call(Method::PUT, &format!("/api/auth/groups/{gid}/members/99999"), Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::PUT, &format!("/api/auth/groups/99999/members/{uid}"), Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_group_removes_its_memberships_and_deleting_a_user_leaves_its_groups() {
    let app = TestApp::start().await;
    let other = app.another_instance().await;
    let admin = app.first_admin("admin").await;
    let a = app.create_user(&admin, "anna", "user").await;
    let b = app.create_user(&admin, "ben", "user").await;
    let anna = other.login("anna").await;
    let g1 = app.post_group(Auth::Bearer(&admin), &json!({"name": "one"})).await.json()["id"].as_u64().expect("id");
    let g2 = app.post_group(Auth::Bearer(&admin), &json!({"name": "two"})).await.json()["id"].as_u64().expect("id");
    for (g, u) in [(g1, a), (g1, b), (g2, a), (g2, b)] {
        app.call(Method::PUT, &format!("/api/auth/groups/{g}/members/{u}"), Auth::Bearer(&admin), None)
            .await
            .assert_status(StatusCode::OK);
    }
    let deleted = app.call(Method::DELETE, &format!("/api/auth/groups/{g1}"), Auth::Bearer(&admin), None).await;
    deleted.assert_status(StatusCode::OK);
    assert_eq!(deleted.json()["members_removed"], 2);
    let me = other.call(Method::GET, "/api/auth/me", Auth::Bearer(&anna), None).await.json();
    assert_eq!(me["groups"], json!([{"id": g2, "name": "two"}]));
    let user = app.call(Method::GET, &format!("/api/auth/users/{a}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(user["groups"], json!([{"id": g2, "name": "two"}]));
    // The name can be used again.
    app.post_group(Auth::Bearer(&admin), &json!({"name": "one"})).await.assert_status(StatusCode::CREATED);

    app.call(Method::DELETE, &format!("/api/auth/users/{b}"), Auth::Bearer(&admin), None)
        .await
        .assert_status(StatusCode::OK);
    let group = app.call(Method::GET, &format!("/api/auth/groups/{g2}"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(group["member_count"], 1);
    let members =
        app.call(Method::GET, &format!("/api/auth/groups/{g2}/members"), Auth::Bearer(&admin), None).await.json();
    assert_eq!(members.as_array().map(Vec::len), Some(1));
    assert_eq!(members[0]["username"], "anna");

    let audit = app.call(Method::GET, "/api/admin/audit?limit=500", Auth::Bearer(&admin), None).await.json();
    let actions: Vec<&str> = audit.as_array().expect("array").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["group.create", "group.member_add", "group.delete"] {
        assert!(actions.contains(&action), "{action} not audited");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_removal_is_audited_and_operators_read_but_do_not_write() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let uid = app.create_user(&admin, "otto", "operator").await;
    let otto = app.login("otto").await;
    let gid =
        app.post_group(Auth::Bearer(&admin), &json!({"name": "readers"})).await.json()["id"].as_u64().expect("id");
    app.call(Method::GET, "/api/auth/groups", Auth::Bearer(&otto), None).await.assert_status(StatusCode::OK);
    app.post_group(Auth::Bearer(&otto), &json!({"name": "mine"})).await.assert_status(StatusCode::FORBIDDEN);
    let path = format!("/api/auth/groups/{gid}/members/{uid}");
    app.call(Method::PUT, &path, Auth::Bearer(&otto), None).await.assert_status(StatusCode::FORBIDDEN);
    app.call(Method::PUT, &path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    app.call(Method::DELETE, &path, Auth::Bearer(&admin), None).await.assert_status(StatusCode::OK);
    let audit =
        app.call(Method::GET, "/api/admin/audit?action=group.member_remove", Auth::Bearer(&admin), None).await.json();
    assert_eq!(audit.as_array().map(Vec::len), Some(1));
}
