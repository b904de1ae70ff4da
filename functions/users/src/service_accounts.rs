//! Service accounts (`/api/auth/service-accounts`, admin): users of kind
//! `service` for automation. They share the username namespace with people,
//! have no password, never log in, enrol a second factor or use single
//! sign-on, and act only through API tokens an admin mints for them here
//! (docs/tokens.md, "Service accounts").

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::audit::{AuditEvent, Outcome};
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::groups;
use shared::http::extract::{Path, Query};
use shared::http::page;
use shared::identity;
use shared::tokens::issue::{self, Authority, Created, TokenRequest};
use shared::types::{Role, Timestamp};
use shared::users::{
    self, CreateError, NewUser, Planned, ServiceOrigin, UpdateError, UserKind, UserRecord, Username, parse_display_name,
};
use shared::{ApiError, ApiResult, AppState};

use crate::change::refusal;

/// A service account as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceAccountView {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Always `service`.
    pub kind: UserKind,
    pub is_active: bool,
    pub created_at: Timestamp,
    /// The group that owns it (it is a member of it), if any.
    pub group_id: Option<u64>,
    /// The admin who created it (`null` when made with the admin secret).
    pub created_by: Option<u64>,
}

impl From<&UserRecord> for ServiceAccountView {
    fn from(user: &UserRecord) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            kind: user.kind,
            is_active: user.is_active,
            created_at: user.created_at,
            group_id: user.owner_group_id,
            created_by: user.created_by,
        }
    }
}

/// The roles a service account may hold: admin rights stay with people,
/// who have second factors.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[expect(dead_code, reason = "only the OpenAPI schema of `role`, which is parsed as a `Role`")]
pub enum ServiceRole {
    Viewer,
    User,
    Operator,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewServiceAccount)]
pub struct CreateBody {
    /// The account's username (the same namespace as people's).
    #[schema(min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_.-]+$")]
    name: String,
    #[schema(value_type = ServiceRole)]
    role: String,
    /// A group to own it; the account becomes a member.
    group_id: Option<u64>,
    #[schema(schema_with = shared::http::openapi::display_name)]
    display_name: Option<String>,
}

/// A role a service account may be given: viewer, user or operator.
pub fn service_role(raw: &str) -> ApiResult<Role> {
    let role = Role::parse_assignable("role", raw)?;
    if role.at_least(Role::Admin) {
        return Err(ApiError::invalid(
            "role",
            "a service account may be viewer, user or operator: admin rights stay with people, who have second factors",
        ));
    }
    Ok(role)
}

/// A 422 about `field` carrying the message of a 422 about another field
/// (the username rules, reported under the body's `name`).
fn as_field(error: ApiError, field: &str) -> ApiError {
    match error {
        ApiError::Validation { errors, .. } if !errors.is_empty() => ApiError::invalid(field, &errors[0].message),
        other => other,
    }
}

fn target(user: &UserRecord) -> String {
    format!("user:{} {}", user.id, user.username)
}

fn not_found() -> ApiError {
    ApiError::not_found("Service account not found")
}

fn group_not_found(id: u64) -> ApiError {
    ApiError::not_found(format!("Group {id} not found"))
}

#[utoipa::path(post, path = "/api/auth/service-accounts", tag = "users", request_body = CreateBody,
    responses(
        (status = 201, description = "Created (no password; mint it a token next)", body = ServiceAccountView),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "`group_id` names no group", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "The name is taken (by a person or another service account)", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "A malformed name or display name, or a role other than viewer, user or operator", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    shared::http::extract::Json(body): shared::http::extract::Json<CreateBody>,
) -> ApiResult<(StatusCode, Json<ServiceAccountView>)> {
    let username = Username::parse_new(&body.name).map_err(|e| as_field(e, "name"))?;
    let display_name = parse_display_name(body.display_name.as_deref(), &username)?;
    let role = service_role(&body.role)?;
    if let Some(gid) = body.group_id
        && groups::get(&state.stores, gid).await?.is_none()
    {
        return Err(group_not_found(gid));
    }
    let group_ids: Vec<u64> = body.group_id.into_iter().collect();
    let new = NewUser {
        username: username.as_str().to_owned(),
        display_name,
        role,
        password_hash: String::new(),
        group_ids: group_ids.clone(),
    };
    let origin = ServiceOrigin { created_by: caller.user_id(), owner_group_id: body.group_id };
    let audit = |user: &UserRecord| {
        let mut detail = format!("role {}", user.role);
        if let Some(gid) = user.owner_group_id {
            detail.push_str(&format!("; owned by group:{gid}"));
        }
        client.event(caller.actor(), "service_account.create", Outcome::Success).target(target(user)).detail(detail)
    };
    // The membership joins the creation's transaction (its actions at 0 and 1
    // of the extras: the member item, then the group's count, which needs the
    // group): a group deleted meanwhile leaves no half-made account.
    let extra = |user: &UserRecord| {
        let mut actions = Vec::new();
        for gid in &group_ids {
            actions.extend(groups::join_actions(&state.stores, *gid, user.id, false)?);
        }
        Ok(actions)
    };
    match users::create_service_account(&state.stores, new, origin, audit, extra).await {
        Ok(user) => Ok((StatusCode::CREATED, Json(ServiceAccountView::from(&user)))),
        Err(CreateError::UsernameTaken) => Err(ApiError::conflict("username_taken", "Username already taken")),
        Err(CreateError::Extra(_)) => Err(group_not_found(body.group_id.unwrap_or_default())),
        Err(CreateError::AdminExists) => {
            Err(ApiError::Internal(anyhow::anyhow!("a service account is never an admin")))
        }
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

/// Newest first; with `limit` or `cursor` one page and `X-Next-Cursor`, else every one.
#[utoipa::path(get, path = "/api/auth/service-accounts", tag = "users", params(page::PageQuery),
    responses(
        (status = 200, description = "Service accounts; `X-Next-Cursor` names the next page", body = Vec<ServiceAccountView>),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Require<min::Admin>,
    Query(query): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let stores = &state.stores;
    let (found, next) = if page::is_paged(&query) {
        let limit = page::limit(query.limit)?;
        let after = page::decode_id('s', query.cursor.as_deref())?;
        users::list_service_accounts(stores, limit, after).await?
    } else {
        page::whole(|limit, after| users::list_service_accounts(stores, limit, after)).await?
    };
    let items: Vec<ServiceAccountView> = found.iter().map(ServiceAccountView::from).collect();
    Ok(page::respond(items, next.map(|id| page::encode_id('s', id))))
}

/// `DELETE /api/auth/service-accounts/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceAccountDeleted {
    message: String,
    #[schema(value_type = u64)]
    tokens_revoked: usize,
}

/// Deletes the account as a user is deleted (`DELETE /api/auth/users/{id}`):
/// its tokens are revoked and its memberships end.
#[utoipa::path(delete, path = "/api/auth/service-accounts/{id}", tag = "users",
    params(("id" = u64, Path, description = "The service account's user id")),
    responses(
        (status = 200, description = "Deleted; its tokens revoked", body = ServiceAccountDeleted),
        (status = 403, description = "Not an admin", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such service account (a person's id is one too)", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A concurrent change", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
) -> ApiResult<Json<ServiceAccountDeleted>> {
    let outcome = identity::delete_user(&state.stores, id, |plan: Planned<'_>| -> ApiResult<AuditEvent> {
        // Checked on the record the deletion is conditioned on (by its version).
        if !plan.before.kind.is_service() {
            return Err(not_found());
        }
        Ok(client.event(caller.actor(), "service_account.delete", Outcome::Success).target(target(plan.before)))
    })
    .await?;
    match outcome {
        Ok(removed) => Ok(Json(ServiceAccountDeleted {
            message: format!("Service account {} deleted", removed.user.username),
            tokens_revoked: removed.tokens_revoked,
        })),
        Err(UpdateError::NotFound) => Err(not_found()),
        Err(err) => Err(refusal(&state, &caller, &client, id, err).await),
    }
}

/// Mints a token owned by the service account (its scopes within the
/// account's role, as for a person's own token; the lifetime cap holds).
/// The token is shown once; `token.create` is audited with the admin as
/// the actor.
#[utoipa::path(post, path = "/api/auth/service-accounts/{id}/tokens", tag = "users",
    params(("id" = u64, Path, description = "The service account's user id")), request_body = TokenRequest,
    responses(
        (status = 201, description = "The token, shown once", body = Created),
        (status = 403, description = "Neither an admin nor a manager of the group owning the account (for an account at or below `user`), or an API token that lacks what it would give", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such service account", body = shared::http::openapi::ErrorBody),
        (status = 409, description = "A token of that name exists, or the account holds the most tokens allowed", body = shared::http::openapi::ErrorBody),
        (status = 422, description = "Bad name, expiry (over `TOKEN_MAX_LIFETIME_DAYS`), scope or resource, or a scope above the account's role", body = shared::http::openapi::ErrorBody),
    ))]
pub async fn mint_token(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(body): shared::http::extract::Json<TokenRequest>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let account = users::get(&state.stores, id).await?.filter(|u| u.kind.is_service()).ok_or_else(not_found)?;
    let authority = if caller.role().at_least(Role::Admin) {
        Authority::Admin
    } else {
        // A manager of the owning group, for an account at or below `user`
        // (the rights a manager may hand out, as for members).
        let managed = account.owner_group_id.filter(|g| caller.user().is_some_and(|u| u.manages(*g)));
        match managed {
            Some(group) if !account.role.at_least(Role::Operator) => Authority::Manager(group),
            _ => {
                return Err(ApiError::forbidden(
                    "insufficient_role",
                    "Only admins, and the managers of the group owning a service account of role user or viewer, mint its tokens",
                ));
            }
        }
    };
    let (token, record) =
        issue::issue(&state.stores, &state.config, &client, (&caller, authority), (account.id, account.role), &body)
            .await?;
    Ok((StatusCode::CREATED, Json(Created::new(token, record))))
}
