//! `POST /api/auth/tokens` (201) and the original CLI's `POST /api/auth/tokens/create` (200).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::audit::Outcome;
use shared::auth::Authenticated;
use shared::auth::ClientInfo;
use shared::auth::ensure_enabled;
use shared::http::extract::Json;
use shared::tokens::{self, CreateError};
use shared::types::Timestamp;
use shared::users::parse_label;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = NewToken)]
pub struct CreateBody {
    #[schema(schema_with = shared::http::openapi::name)]
    name: String,
    /// Days until it expires, 1 to 3650; omitted, it never does.
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
}

/// Shown once: the only time the token itself leaves the service.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CreatedToken)]
pub struct Created {
    id: u64,
    name: String,
    token: String,
    prefix: String,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/auth/tokens", tag = "tokens", request_body = CreateBody,
    responses((status = 201, description = "Created; `token` is shown only now", body = Created), (status = 403, description = "The built-in system admin cannot own tokens", body = shared::http::openapi::ErrorBody), (status = 409, description = "The caller already has a token of that name (`token_name_taken`), or holds the most tokens allowed, 100 (`too_many_tokens`)", body = shared::http::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Authenticated,
    client: ClientInfo,
    body: Json<CreateBody>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    issue(&state, caller, &client, body.0, StatusCode::CREATED).await
}

/// The original CLI checks for 200 after logging in.
#[utoipa::path(post, path = "/api/auth/tokens/create", tag = "tokens", request_body = CreateBody,
    responses((status = 200, description = "Created; `token` is shown only now", body = Created), (status = 403, description = "The built-in system admin cannot own tokens", body = shared::http::openapi::ErrorBody), (status = 409, description = "The caller already has a token of that name (`token_name_taken`), or holds the most tokens allowed, 100 (`too_many_tokens`)", body = shared::http::openapi::ErrorBody)))]
pub async fn create_compat(
    State(state): State<AppState>,
    caller: Authenticated,
    client: ClientInfo,
    body: Json<CreateBody>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    issue(&state, caller, &client, body.0, StatusCode::OK).await
}

async fn issue(
    state: &AppState,
    Authenticated(caller): Authenticated,
    client: &ClientInfo,
    body: CreateBody,
    status: StatusCode,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    ensure_enabled(&state.config)?;
    let Some(owner) = caller.user() else {
        return Err(ApiError::forbidden(
            "no_tokens",
            "API tokens belong to users; the built-in system admin cannot own one",
        ));
    };
    let name = parse_label("name", &body.name, 100)?;
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days @ 1..=3650) => Some(Timestamp::now().plus_secs(i64::from(days) * 86_400)),
        Some(_) => return Err(ApiError::invalid("expires_in_days", "must be from 1 to 3650 (omit it for no expiry)")),
    };
    let audit = |t: &tokens::TokenRecord| {
        client
            .event(caller.actor(), "token.create", Outcome::Success)
            .target(format!("token:{} {} of user:{}", t.id, t.name, t.user_id))
    };
    match tokens::create(&state.stores, owner.id, &name, expires_at, audit).await {
        Ok(issued) => {
            let r = issued.record;
            let body = Created {
                id: r.id,
                name: r.name,
                token: issued.token,
                prefix: r.prefix,
                created_at: r.created_at,
                expires_at: r.expires_at,
            };
            Ok((status, axum::Json(body)))
        }
        Err(CreateError::NameTaken) => {
            Err(ApiError::conflict("token_name_taken", format!("You already have a token named {name:?}")))
        }
        Err(CreateError::TooMany) => Err(ApiError::conflict(
            "too_many_tokens",
            format!("You hold {} tokens, the most allowed; revoke unused ones first", tokens::MAX_PER_USER),
        )),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}
