//! `PUT /api/auth/users/{id}/role` and the compat `PATCH /api/auth/users/{id}`
//! (admin): role, activity and display name.
//!
//! A change takes effect on the user's next request everywhere (see
//! `shared::identity::update` for how the cache is kept in step).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shared::audit::{self, AuditEvent, Outcome};
use shared::auth::Caller;
use shared::auth::ClientInfo;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Path;
use shared::identity;
use shared::mfa::policy;
use shared::sessions;
use shared::types::Role;
use shared::users::UserView;
use shared::users::Username;
use shared::users::parse_display_name;
use shared::users::{Planned, UpdateError, UserChange, UserRecord};
use shared::{ApiError, ApiResult, AppState};

use crate::entry::find_user;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleBody {
    #[schema(value_type = shared::http::openapi::AssignableRole)]
    role: String,
}

#[utoipa::path(put, path = "/api/auth/users/{id}/role", tag = "users", params(("id" = u64, Path, description = "User id")), request_body = RoleBody,
    responses((status = 200, description = "The user with the new role", body = shared::users::UserView), (status = 403, description = "Not an admin, or a change of oneself the guards refuse", body = shared::http::openapi::ErrorBody), (status = 409, description = "The last active admin, or a concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn set_role(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(body): shared::http::extract::Json<RoleBody>,
) -> ApiResult<Json<UserView>> {
    let role = Role::parse_assignable("role", &body.role)?;
    let change = UserChange { role: Some(role), ..UserChange::default() };
    apply(&state, &caller, &client, id, change).await.map(|u| Json(u.view()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = UserChange)]
pub struct PatchBody {
    #[schema(schema_with = shared::http::openapi::display_name)]
    display_name: Option<String>,
    #[schema(value_type = Option<shared::http::openapi::AssignableRole>)]
    role: Option<String>,
    is_active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/auth/users/{id}", tag = "users", params(("id" = u64, Path, description = "User id")), request_body = PatchBody,
    responses((status = 200, description = "The changed user", body = shared::users::UserView), (status = 403, description = "Not an admin, or a change of oneself the guards refuse", body = shared::http::openapi::ErrorBody), (status = 409, description = "The last active admin, or a concurrent change", body = shared::http::openapi::ErrorBody)))]
pub async fn patch_user(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Admin>,
    client: ClientInfo,
    Path(id): Path<u64>,
    shared::http::extract::Json(body): shared::http::extract::Json<PatchBody>,
) -> ApiResult<Json<UserView>> {
    let role = body.role.as_deref().map(|r| Role::parse_assignable("role", r)).transpose()?;
    let display_name = match body.display_name.as_deref() {
        None => None,
        Some(raw) => {
            // The default for an empty name is the username, which needs the record.
            let user = find_user(&state, id).await?;
            let username = Username::parse(&user.username)?;
            Some(parse_display_name(Some(raw), &username)?)
        }
    };
    let change = UserChange { display_name, role, is_active: body.is_active, ..UserChange::default() };
    apply(&state, &caller, &client, id, change).await.map(|u| Json(u.view()))
}

fn describe(before: &UserRecord, after: &UserRecord) -> (&'static str, String) {
    let mut parts = Vec::new();
    if before.role != after.role {
        parts.push(format!("role {} → {}", before.role, after.role));
    }
    if before.is_active != after.is_active {
        parts.push(format!("active {} → {}", before.is_active, after.is_active));
    }
    if before.display_name != after.display_name {
        parts.push("display name changed".to_owned());
    }
    // The version orders concurrent changes in the audit trail.
    parts.push(format!("v{}", after.version));
    let action = if before.is_active && !after.is_active {
        "user.deactivate"
    } else if !before.is_active && after.is_active {
        "user.activate"
    } else if before.role != after.role {
        "user.role_change"
    } else {
        "user.update"
    };
    (action, parts.join("; "))
}

/// Applies a change with the guards: no self-demotion or self-deactivation,
/// no role above the caller's own, never zero active admins, no service
/// account made an admin.
pub async fn apply(
    state: &AppState,
    caller: &Caller,
    client: &ClientInfo,
    id: u64,
    mut change: UserChange,
) -> ApiResult<UserRecord> {
    change.promotion_ends_sessions_at = policy::required_role(&state.config);
    if let Some(role) = change.role
        && !caller.role().at_least(role)
    {
        return Err(ApiError::forbidden("role_too_high", "You cannot grant a role above your own"));
    }
    let is_self = caller.user_id() == Some(id);
    let redis = &state.stores.redis;
    let mut new_generation = false;
    let outcome = identity::update(&state.stores, id, &change, |plan: Planned<'_>| -> ApiResult<AuditEvent> {
        let before = plan.before;
        let after = plan.after.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("update without a new state")))?;
        new_generation = after.epoch != before.epoch;
        if is_self && after.role < before.role {
            return Err(ApiError::forbidden("self_change", "You cannot demote yourself"));
        }
        if is_self && before.is_active && !after.is_active {
            return Err(ApiError::forbidden("self_change", "You cannot deactivate yourself"));
        }
        if before.kind.is_service() && after.role.at_least(Role::Admin) {
            // Judged on the record the write is conditioned on.
            return Err(ApiError::invalid(
                "role",
                "a service account may be viewer, user or operator: admin rights stay with people, who have second factors",
            ));
        }
        let (action, detail) = describe(before, after);
        Ok(client
            .event(caller.actor(), action, Outcome::Success)
            .target(format!("user:{} {}", before.id, before.username))
            .detail(detail))
    })
    .await?;
    match outcome {
        Ok(user) => {
            if !user.is_active || new_generation {
                // Deactivation ends every session (reactivation will not bring
                // them back), and so does a promotion into the roles that must
                // have a second factor: the new generation refuses them already,
                // this removes their records.
                sessions::end_all(redis, user.id, None).await?;
            }
            Ok(user)
        }
        Err(err) => Err(refusal(state, caller, client, id, err).await),
    }
}

/// The answer to a refused update or deletion; last-admin refusals are audited.
pub async fn refusal(state: &AppState, caller: &Caller, client: &ClientInfo, id: u64, err: UpdateError) -> ApiError {
    match err {
        UpdateError::NotFound => ApiError::not_found("User not found"),
        UpdateError::LastAdmin => {
            let event = client
                .event(caller.actor(), "user.last_admin_guard", Outcome::Denied)
                .target(format!("user:{id}"))
                .reason("last_admin");
            if let Err(e) = audit::record(&state.stores, &event).await {
                return e.into();
            }
            ApiError::conflict("last_admin", "The last active admin cannot be demoted, deactivated or deleted")
        }
        UpdateError::Contended => ApiError::conflict("concurrent_update", "The user changed meanwhile; try again"),
        UpdateError::Store(e) => e.into(),
    }
}
