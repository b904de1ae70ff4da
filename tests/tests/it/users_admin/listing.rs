//! The user list and a user's record: fields, paging, last seen, clear
//! refusals, and what users below operator see.

use super::*;
use http::{Method, StatusCode};
use krv_tests::{Auth, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_list_shows_every_field_and_pages_with_a_cursor() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    for i in 0..4 {
        app.create_user(&admin, &format!("member{i}"), "user").await;
    }
    app.login("member1").await;
    app.login("member1").await;

    let first = app.call(Method::GET, "/api/auth/users?limit=2", Auth::Bearer(&admin), None).await;
    first.assert_status(StatusCode::OK);
    let page1 = first.json();
    let page1 = page1.as_array().expect("a JSON array");
    assert_eq!(page1.len(), 2);
    assert_eq!(page1[0]["username"], "member3", "newest first");
    for field in ["id", "username", "display_name", "role", "is_active", "created_at", "groups", "active_sessions"] {
        assert!(page1[0].get(field).is_some(), "{field} missing: {}", page1[0]);
    }
    assert!(page1[0].get("last_login_at").is_some() && page1[0].get("last_seen_at").is_some());
    let cursor = first.header("x-next-cursor").expect("a next cursor").to_owned();

    let mut all: Vec<Value> = page1.to_vec();
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        let response = app
            .call(Method::GET, &format!("/api/auth/users?limit=2&cursor={cursor}"), Auth::Bearer(&admin), None)
            .await;
        response.assert_status(StatusCode::OK);
        all.extend(response.json().as_array().expect("array").iter().cloned());
        next = response.header("x-next-cursor").map(str::to_owned);
    }
    let names: Vec<&str> = all.iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["member3", "member2", "member1", "member0", "admin"]);
    let member1 = all.iter().find(|u| u["username"] == "member1").expect("member1");
    assert_eq!(member1["active_sessions"], 2);
    assert!(member1["last_login_at"].is_string());

    app.call(Method::GET, "/api/auth/users?limit=501", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.call(Method::GET, "/api/auth/users?cursor=bogus", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_seen_is_recorded_from_authenticated_requests() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "walker", "user").await;
    let before = app.call(Method::GET, &user_path(id), Auth::Bearer(&admin), None).await.json();
    assert_eq!(before["last_seen_at"], Value::Null);
    let walker = app.login("walker").await;
    app.call(Method::GET, "/api/auth/me", Auth::Bearer(&walker), None).await.assert_status(StatusCode::OK);
    let after = app.call(Method::GET, &user_path(id), Auth::Bearer(&admin), None).await.json();
    assert!(after["last_seen_at"].is_string(), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_bad_ids_and_bad_roles_are_refused_clearly() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let id = app.create_user(&admin, "target", "user").await;
    app.call(Method::GET, "/api/auth/users/99999", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::GET, "/api/auth/users/not-a-number", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let role = |r: &str| json!({"role": r});
    app.call(Method::PUT, "/api/auth/users/99999/role", Auth::Bearer(&admin), Some(&role("viewer")))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    for bad in ["root", "anony", "Admin", ""] {
        let body = app
            .call(Method::PUT, &format!("{}/role", user_path(id)), Auth::Bearer(&admin), Some(&role(bad)))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "role");
    }
    app.call(Method::PATCH, &user_path(id), Auth::Bearer(&admin), Some(&json!({"role": "superuser"})))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.call(Method::DELETE, "/api/auth/users/99999", Auth::Bearer(&admin), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_below_operator_see_only_themselves() {
    let app = TestApp::start().await;
    let admin = app.first_admin("admin").await;
    let me_id = app.create_user(&admin, "vera", "viewer").await;
    let other_id = app.create_user(&admin, "walt", "user").await;
    let vera = app.login("vera").await;
    let mine = app.call(Method::GET, &user_path(me_id), Auth::Bearer(&vera), None).await;
    mine.assert_status(StatusCode::OK);
    assert_eq!(mine.json()["username"], "vera");
    app.call(Method::GET, &user_path(other_id), Auth::Bearer(&vera), None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}
