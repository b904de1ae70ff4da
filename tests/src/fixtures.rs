//! What tests set up again and again, as methods of [`TestApp`]: users with a
//! role and a session, groups, invitations, tasks, and the one-line requests
//! many tests repeat (a login attempt, a role change, `/me`).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{ADMIN_SECRET, PASSWORD, REGISTER_SECRET, TestApp};
use crate::request::{Auth, TestResponse};

/// The system admin's credentials (`X-Admin-Secret`), which every test app accepts.
pub const SYSTEM: Auth<'static> = Auth::AdminSecret(ADMIN_SECRET);

/// A user a fixture made: its id, name and a session token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: u64,
    pub name: String,
    pub token: String,
}

impl TestUser {
    /// The user's session as request credentials.
    pub fn auth(&self) -> Auth<'_> {
        Auth::Bearer(&self.token)
    }
}

impl TestApp {
    /// The first admin, `admin`, registered with the register secret and logged in.
    pub async fn with_admin(&self) -> TestUser {
        let body = json!({"username": "admin", "password": PASSWORD, "register_secret": REGISTER_SECRET});
        let response = self.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        let id = response.json()["user"]["id"].as_u64().expect("numeric id");
        let token = response.session_token().expect("registration sets the session cookie");
        TestUser { id, name: "admin".to_owned(), token }
    }

    /// The user `name` with `role`, created by the system admin and logged in.
    pub async fn with_user(&self, name: &str, role: &str) -> TestUser {
        let id = self.create_user_as(SYSTEM, name, role).await;
        TestUser { id, name: name.to_owned(), token: self.login(name).await }
    }

    /// [`TestApp::with_user`], made a member of the group `group_id`.
    pub async fn with_user_in_group(&self, name: &str, role: &str, group_id: u64) -> TestUser {
        let user = self.with_user(name, role).await;
        self.add_member(SYSTEM, group_id, user.id).await;
        user
    }

    /// Registers the first admin `name` with the register secret; returns its session token.
    pub async fn first_admin(&self, name: &str) -> String {
        let body = json!({"username": name, "password": PASSWORD, "register_secret": REGISTER_SECRET});
        let response = self.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        response.session_token().expect("registration sets the session cookie")
    }

    /// Has `admin_token`'s admin create `name` with `role`; returns the new user's id.
    pub async fn create_user(&self, admin_token: &str, name: &str, role: &str) -> u64 {
        self.create_user_as(Auth::Bearer(admin_token), name, role).await
    }

    /// Creates `name` with `role` as the admin `auth` names; returns the new user's id.
    pub async fn create_user_as(&self, auth: Auth<'_>, name: &str, role: &str) -> u64 {
        let body = json!({"username": name, "password": PASSWORD, "role": role});
        let response = self.call(Method::POST, "/api/auth/register", auth, Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        response.json()["user"]["id"].as_u64().expect("numeric id")
    }

    /// Logs `name` in with [`PASSWORD`]; returns the session token.
    pub async fn login(&self, name: &str) -> String {
        let response = self.login_attempt(name, PASSWORD, "127.0.0.1").await;
        response.assert_status(StatusCode::OK);
        response.session_token().expect("login sets the session cookie")
    }

    /// A login as `name` with `password` from the client address `ip`, whatever it answers.
    pub async fn login_attempt(&self, name: &str, password: &str, ip: &str) -> TestResponse {
        let body = json!({"username": name, "password": password});
        self.call_from(Method::POST, "/api/auth/login", Auth::None, Some(&body), ip).await
    }

    /// What `GET /api/auth/me` answers `token` (a session or an API token).
    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.call(Method::GET, "/api/auth/me", Auth::Bearer(token), None).await.status
    }

    /// Creates an API token named `name` with `session`; returns the token and its id.
    pub async fn create_token(&self, session: &str, name: &str) -> (String, u64) {
        let body = json!({"name": name});
        let response = self.call(Method::POST, "/api/auth/tokens", Auth::Bearer(session), Some(&body)).await;
        response.assert_status(StatusCode::CREATED);
        let body = response.json();
        (body["token"].as_str().expect("token").to_owned(), body["id"].as_u64().expect("numeric id"))
    }

    /// The role user `id` has now, as the system admin reads it.
    pub async fn role_of(&self, id: u64) -> Value {
        let user = self.call(Method::GET, &format!("/api/auth/users/{id}"), SYSTEM, None).await;
        user.assert_status(StatusCode::OK);
        user.json()["role"].clone()
    }

    /// `PUT /api/auth/users/{id}/role` as `auth`, whatever it answers.
    pub async fn set_role(&self, auth: Auth<'_>, id: u64, role: &str) -> TestResponse {
        self.call(Method::PUT, &format!("/api/auth/users/{id}/role"), auth, Some(&json!({"role": role}))).await
    }

    /// `POST /api/auth/groups` as `auth` with `body`, whatever it answers.
    pub async fn post_group(&self, auth: Auth<'_>, body: &Value) -> TestResponse {
        self.call(Method::POST, "/api/auth/groups", auth, Some(body)).await
    }

    /// Creates the group `name` as `auth`; returns its id.
    pub async fn create_group(&self, auth: Auth<'_>, name: &str) -> u64 {
        let response = self.post_group(auth, &json!({"name": name})).await;
        response.assert_status(StatusCode::CREATED);
        response.json()["id"].as_u64().expect("group id")
    }

    /// Adds user `user_id` to group `group_id` as `auth`.
    pub async fn add_member(&self, auth: Auth<'_>, group_id: u64, user_id: u64) {
        let path = format!("/api/auth/groups/{group_id}/members/{user_id}");
        self.call(Method::PUT, &path, auth, None).await.assert_status(StatusCode::OK);
    }

    /// `POST /api/auth/invitations` as `auth` with `body`, whatever it answers.
    pub async fn invite(&self, auth: Auth<'_>, body: &Value) -> TestResponse {
        self.call(Method::POST, "/api/auth/invitations", auth, Some(body)).await
    }

    /// Creates an invitation as `auth`; returns its code.
    pub async fn invitation_code(&self, auth: Auth<'_>, body: &Value) -> String {
        let created = self.invite(auth, body).await;
        created.assert_status(StatusCode::CREATED);
        created.json()["code"].as_str().expect("code").to_owned()
    }

    /// Registers `name` with the invitation `code`, whatever it answers.
    pub async fn register_invited(&self, name: &str, code: &str) -> TestResponse {
        let body = json!({"username": name, "password": PASSWORD, "invitation_code": code});
        self.call(Method::POST, "/api/auth/register", Auth::None, Some(&body)).await
    }

    /// `POST /api/tasks` as `auth` with `body`, whatever it answers.
    pub async fn submit(&self, auth: Auth<'_>, body: &Value) -> TestResponse {
        self.call(Method::POST, "/api/tasks", auth, Some(body)).await
    }

    /// Submits a task (or VPS) as `auth`; returns the first id of the accepted submission.
    pub async fn submit_task(&self, auth: Auth<'_>, body: &Value) -> String {
        let response = self.submit(auth, body).await;
        response.assert_status(StatusCode::ACCEPTED);
        task_id(&response)
    }
}

/// The first task id of a submission's answer.
pub fn task_id(response: &TestResponse) -> String {
    response.json()["task_ids"][0].as_str().expect("task ids are strings").to_owned()
}
