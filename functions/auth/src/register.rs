//! `POST /api/auth/register`: three ways in (see docs/auth.md):
//! (a) the register secret creates the first admin while no active admin exists;
//! (b) an admin caller creates a user with a role (201, no cookie);
//! (c) an invitation code creates a user with the invitation's role and groups,
//! counting one use.
//! (a) and (c) log the new user in. `invitation_code` and the compat `?token=` carry the register
//! secret or an invitation code.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;
use shared::audit::{self, AuditEvent, Outcome};
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::MaybeCaller;
use shared::auth::enrolled;
use shared::auth::ensure_enabled;
use shared::auth::password;
use shared::crypto::constant_time_eq;
use shared::http::extract::{Json, Query};
use shared::invitations::{self, Invitation, RedeemError};
use shared::types::Role;
use shared::types::Timestamp;
use shared::users::Username;
use shared::users::parse_display_name;
use shared::users::{self, CreateError, CreateGuard, NewUser, UserRecord};
use shared::{ApiError, ApiResult, AppState};

use crate::session::{self, SessionStarted};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    #[schema(min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_.-]+$")]
    username: String,
    /// At least 8 characters, at most 1024 bytes; not a common password, not containing the username.
    #[schema(min_length = 8)]
    password: String,
    #[schema(schema_with = shared::http::openapi::display_name)]
    display_name: Option<String>,
    register_secret: Option<String>,
    invitation_code: Option<String>,
    /// Only for an admin caller (default `user`).
    #[schema(value_type = Option<shared::http::openapi::AssignableRole>)]
    role: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// Compat: an invitation code or the register secret.
    token: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/register", tag = "auth",
    security((), ("session_cookie" = []), ("bearer" = []), ("admin_secret" = [])),
    params(RegisterQuery), request_body = RegisterBody,
    responses(
        (status = 201, description = "Created (and logged in, unless an admin created the user)", body = crate::session::SessionStarted),
        (status = 400, description = "Invalid, expired or used-up invitation code, or a body that is not JSON", body = shared::http::openapi::ErrorBody),
        (status = 403, description = "No way in: no admin, invitation or valid register secret; or an admin exists already", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "Username already taken", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    client: ClientInfo,
    Query(query): Query<RegisterQuery>,
    Json(body): Json<RegisterBody>,
) -> ApiResult<Response> {
    ensure_enabled(&state.config)?;
    if caller.role().at_least(Role::Admin) {
        // The enrolment policy holds here too (this route also serves anyone).
        let caller = enrolled(&state, caller)?;
        return admin_creates(&state, &caller, &client, body).await;
    }
    // The register secret may come in any of the three places a code can: the
    // panels' register forms have one "code" field, sent as `invitation_code`.
    let presented = body.register_secret.as_deref().or(body.invitation_code.as_deref()).or(query.token.as_deref());
    let register_secret = state.config.admin_register_secret.as_ref().map(|s| s.expose_secret().to_owned());
    if let (Some(given), Some(expected)) = (presented, register_secret.as_deref())
        && constant_time_eq(given, expected)
    {
        return first_admin(&state, &client, body).await;
    }
    if let Some(code) = body.invitation_code.clone().or(query.token) {
        return with_invitation(&state, &client, &code, body).await;
    }
    Err(ApiError::forbidden("registration_closed", "Registration needs an invitation code or an admin"))
}

/// Validated fields of a new user.
struct Validated {
    username: Username,
    display_name: String,
}

fn validate(body: &RegisterBody) -> ApiResult<Validated> {
    let username = Username::parse_new(&body.username)?;
    let display_name = parse_display_name(body.display_name.as_deref(), &username)?;
    password::check_new("password", &body.password, &username)?;
    Ok(Validated { username, display_name })
}

/// The new user, with `role`, its password hashed (off the async threads).
async fn new_user(state: &AppState, fields: Validated, password: &str, role: Role) -> ApiResult<NewUser> {
    Ok(NewUser {
        username: fields.username.as_str().to_owned(),
        display_name: fields.display_name,
        role,
        password_hash: state.keys.passwords.hash(password).await?,
        group_ids: Vec::new(),
    })
}

/// The creation's own audit event, once the new user's id is known.
fn created(event: AuditEvent) -> impl FnOnce(&UserRecord) -> AuditEvent {
    |user: &UserRecord| {
        event.self_registered(user.id, &user.username).target(format!("user:{} {}", user.id, user.username))
    }
}

/// Creates a user with no invitation (the first admin, or by an admin).
async fn create(state: &AppState, new: NewUser, guard: CreateGuard, event: AuditEvent) -> ApiResult<UserRecord> {
    users::create(&state.stores, new, guard, created(event), |_| Ok(Vec::new())).await.map_err(refused)
}

/// The answer to a failed creation that is not about extra actions.
fn refused(err: CreateError) -> ApiError {
    match err {
        CreateError::UsernameTaken => ApiError::conflict("username_taken", "Username already taken"),
        CreateError::AdminExists => ApiError::forbidden(
            "admin_exists",
            "An active admin already exists; the register secret no longer creates admins",
        ),
        CreateError::Extra(i) => ApiError::Internal(anyhow::anyhow!("unexpected failure of extra action {i}")),
        CreateError::Store(e) => e.into(),
    }
}

const INVALID_INVITATION: &str = "Invalid invitation code";

/// Why an invitation cannot be used now, if it cannot.
fn unusable(invitation: Option<&Invitation>, now: Timestamp) -> Option<ApiError> {
    match invitation {
        None => Some(ApiError::bad_request("invalid_invitation", INVALID_INVITATION)),
        Some(inv) if inv.expires_at <= now => {
            Some(ApiError::bad_request("invitation_expired", "This invitation has expired"))
        }
        Some(inv) if inv.uses >= inv.max_uses => {
            Some(ApiError::bad_request("invitation_used_up", "This invitation has been used up"))
        }
        Some(_) => None,
    }
}

/// (c): the invitation's role and groups; one use is counted in the same
/// transaction that creates the user, so it is never exceeded and a refused
/// registration consumes nothing.
async fn with_invitation(state: &AppState, client: &ClientInfo, code: &str, body: RegisterBody) -> ApiResult<Response> {
    let stores = &state.stores;
    let now = Timestamp::now();
    let found = invitations::find_by_code(stores, code).await?;
    if let Some(error) = unusable(found.as_ref(), now) {
        let reason = match error.code() {
            "invitation_expired" => "invitation_expired",
            "invitation_used_up" => "invitation_used_up",
            _ => "invalid_invitation",
        };
        let event = client.event(("_anonymous".into(), None), "user.register", Outcome::Failure).reason(reason);
        audit::record(stores, &event).await?;
        return Err(error);
    }
    let invitation = found.ok_or_else(|| ApiError::bad_request("invalid_invitation", INVALID_INVITATION))?;
    let fields = validate(&body)?;
    let actor = (fields.username.as_str().to_owned(), None);
    let event = client.event(actor, "user.register", Outcome::Success).detail(format!("invitation:{}", invitation.id));
    let new = new_user(state, fields, &body.password, invitation.role).await?;
    let used = |user: &UserRecord| {
        client
            .event((user.username.clone(), Some(user.id)), "invitation.use", Outcome::Success)
            .target(format!("invitation:{}", invitation.id))
            .detail(format!("by user:{} {}", user.id, user.username))
    };
    match invitations::redeem(stores, &invitation, new, created(event), used).await {
        Ok(user) => session::start(state, &user, client, StatusCode::CREATED, "Registration successful").await,
        Err(RedeemError::Unusable) => {
            // Used up, expired or revoked while we were at it: say which.
            let now_found = invitations::find_by_code(stores, code).await?;
            Err(unusable(now_found.as_ref(), Timestamp::now())
                .unwrap_or_else(|| ApiError::bad_request("invitation_used_up", "This invitation has been used up")))
        }
        Err(RedeemError::CreatorRevoked) => {
            let event = client
                .event(("_anonymous".into(), None), "user.register", Outcome::Failure)
                .target(format!("invitation:{}", invitation.id))
                .reason("invitation_creator_revoked");
            audit::record(stores, &event).await?;
            Err(ApiError::bad_request(
                "invitation_revoked",
                "This invitation is no longer valid: its creator can no longer grant it",
            ))
        }
        Err(RedeemError::GroupChanged) => {
            Err(ApiError::conflict("concurrent_update", "A group of this invitation changed meanwhile; try again"))
        }
        Err(RedeemError::Create(other)) => Err(refused(other)),
    }
}

async fn first_admin(state: &AppState, client: &ClientInfo, body: RegisterBody) -> ApiResult<Response> {
    let fields = validate(&body)?;
    let actor = (fields.username.as_str().to_owned(), None);
    let event = client.event(actor, "user.register", Outcome::Success).reason("register_secret");
    let new = new_user(state, fields, &body.password, Role::Admin).await?;
    let user = create(state, new, CreateGuard::FirstAdmin, event).await?;
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
    // Creating users is an admin's right, re-checked when the user is written.
    let event = client.event(caller.actor(), "user.create", Outcome::Success).requiring(Role::Admin);
    let new = new_user(state, fields, &body.password, role).await?;
    let user = create(state, new, CreateGuard::None, event).await?;
    let body = SessionStarted { message: "User created".into(), user: user.view(), expires_at: None };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}
