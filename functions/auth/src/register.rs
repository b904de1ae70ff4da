//! `POST /api/auth/register`: three ways in (SPEC section 5):
//! (a) the register secret creates the first admin while no active admin exists;
//! (b) an admin caller creates a user with a role (201, no cookie);
//! (c) an invitation code creates a user with the invitation's role and groups.
//! (a) and (c) log the new user in. The compat `?token=` carries the register
//! secret or an invitation code.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use shared::auth::secret::constant_time_eq;
use shared::auth::{Caller, ClientInfo, MaybeCaller, ensure_enabled, password};
use shared::extract::{Json, Query};
use shared::model::user::parse_display_name;
use shared::model::{Role, Username};
use shared::store::audit::{AuditEvent, Outcome};
use shared::store::users::{self, CreateError, CreateGuard, NewUser, UserRecord};
use shared::{ApiError, ApiResult, AppState};

use crate::session;

#[derive(Deserialize)]
pub struct RegisterBody {
    username: String,
    password: String,
    display_name: Option<String>,
    register_secret: Option<String>,
    invitation_code: Option<String>,
    role: Option<String>,
}

#[derive(Deserialize)]
pub struct RegisterQuery {
    token: Option<String>,
}

pub async fn register(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    client: ClientInfo,
    Query(query): Query<RegisterQuery>,
    Json(body): Json<RegisterBody>,
) -> ApiResult<Response> {
    ensure_enabled(&state.config)?;
    if caller.role().at_least(Role::Admin) {
        return admin_creates(&state, &caller, &client, body).await;
    }
    let presented = body.register_secret.as_deref().or(query.token.as_deref());
    let register_secret = state.config.admin_register_secret.as_ref().map(|s| s.expose_secret().to_owned());
    if let (Some(given), Some(expected)) = (presented, register_secret.as_deref())
        && constant_time_eq(given, expected)
    {
        return first_admin(&state, &client, body).await;
    }
    // Invitations are issued by the invitations group; a code that matches none is refused.
    if body.invitation_code.is_some() || query.token.is_some() {
        let event = client.event(caller.actor(), "user.register", Outcome::Failure).reason("invalid_invitation");
        shared::store::audit::record(&state.stores, &event, state.config.audit_retention_days).await?;
        return Err(ApiError::bad_request("invalid_invitation", "Invalid or expired invitation code"));
    }
    Err(ApiError::forbidden("registration_closed", "Registration needs an invitation code or an admin"))
}

/// Validated fields of a new user.
struct Validated {
    username: Username,
    display_name: String,
}

fn validate(body: &RegisterBody) -> ApiResult<Validated> {
    let username = Username::parse(&body.username)?;
    let display_name = parse_display_name(body.display_name.as_deref(), &username)?;
    password::check_new("password", &body.password, &username)?;
    Ok(Validated { username, display_name })
}

async fn create(
    state: &AppState,
    fields: Validated,
    password: &str,
    role: Role,
    guard: CreateGuard,
    event: AuditEvent,
) -> ApiResult<UserRecord> {
    let password_hash = state.keys.passwords.hash(password).await?;
    let new = NewUser {
        username: fields.username.as_str().to_owned(),
        display_name: fields.display_name,
        role,
        password_hash,
    };
    let audit = |user: &UserRecord| event.target(format!("user:{} {}", user.id, user.username));
    match users::create(&state.stores, new, guard, audit, state.config.audit_retention_days).await {
        Ok(user) => Ok(user),
        Err(CreateError::UsernameTaken) => Err(ApiError::conflict("username_taken", "Username already taken")),
        Err(CreateError::AdminExists) => Err(ApiError::forbidden(
            "admin_exists",
            "An active admin already exists; the register secret no longer creates admins",
        )),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

async fn first_admin(state: &AppState, client: &ClientInfo, body: RegisterBody) -> ApiResult<Response> {
    let fields = validate(&body)?;
    let actor = (fields.username.as_str().to_owned(), None);
    let event = client.event(actor, "user.register", Outcome::Success).reason("register_secret");
    let user = create(state, fields, &body.password, Role::Admin, CreateGuard::FirstAdmin, event).await?;
    session::start(state, &user, client, StatusCode::CREATED, "Registration successful").await
}

async fn admin_creates(
    state: &AppState,
    caller: &Caller,
    client: &ClientInfo,
    body: RegisterBody,
) -> ApiResult<Response> {
    let fields = validate(&body)?;
    let role = match body.role.as_deref() {
        None => Role::User,
        Some(raw) => Role::parse_assignable("role", raw)?,
    };
    // No one grants a role above their own (admins are the top, so this holds
    // by construction today; it stays explicit for the day roles grow).
    if !caller.role().at_least(role) {
        return Err(ApiError::forbidden("role_too_high", "You cannot grant a role above your own"));
    }
    let event = client.event(caller.actor(), "user.create", Outcome::Success);
    let user = create(state, fields, &body.password, role, CreateGuard::None, event).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"message": "User created", "user": user.view()}))).into_response())
}
