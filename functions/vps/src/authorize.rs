//! `POST /api/authorize`: may the caller connect to (or manage) a VPS? What an
//! SSH proxy or terminal gateway asks with the user's credentials. Warm, it
//! costs one Redis round trip (the caller with their groups, and the VPS's
//! grants: see `shared::vps::access`) and no DynamoDB call.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::audit::{self, Outcome};
use shared::auth::ClientInfo;
use shared::auth::Deferred;
use shared::http::extract;
use shared::tokens::Scope;
use shared::types::Role;
use shared::vps;
use shared::vps::access::Decision;
use shared::{ApiError, ApiResult, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Question {
    /// `vps:<id>`.
    #[schema(pattern = "^vps:[0-9]{1,19}$")]
    resource: String,
    /// `connect` or `manage`.
    #[schema(pattern = "^(connect|manage)$")]
    action: String,
}

impl Question {
    /// The VPS asked about and whether the action is `manage`.
    fn target(&self) -> ApiResult<(u64, bool)> {
        let vps_id = self
            .resource
            .strip_prefix("vps:")
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| ApiError::invalid("resource", "expected vps:<id>"))?;
        match self.action.as_str() {
            "connect" => Ok((vps_id, false)),
            "manage" => Ok((vps_id, true)),
            _ => Err(ApiError::invalid("action", "expected connect or manage")),
        }
    }
}

/// `POST /api/authorize` when allowed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Allowed {
    allowed: bool,
    user: String,
    /// Null for the built-in system admin.
    user_id: Option<u64>,
    role: Role,
}

/// An API token needs the scope `vps:connect` (or `vps:manage`) to ask
/// about `connect`, `vps:manage` to ask about `manage`, and, when limited to
/// resources, the VPS among them (403 `insufficient_scope`,
/// `token_resource_limited`; not audited: the token, not the user, is refused).
///
/// `connect`: a caller of at least `user` who is the owner, an assigned user
/// or a member of an assigned group, or an operator (owners and assignees only while the VPS is approved and alive). `manage`:
/// operators. 200 `{allowed: true, user, user_id, role}` or 403 (audited).
#[utoipa::path(post, path = "/api/authorize", tag = "vps", request_body = Question,
    responses((status = 200, description = "Allowed", body = Allowed),
        (status = 403, description = "Not allowed", body = shared::http::openapi::ErrorBody),
        (status = 404, description = "No such VPS (told to operators only; others get 403)", body = shared::http::openapi::ErrorBody)))]
pub async fn authorize(
    State(state): State<AppState>,
    credentials: Deferred,
    client: ClientInfo,
    question: Result<extract::Json<Question>, ApiError>,
) -> ApiResult<Json<Allowed>> {
    // Credentials are judged before the question (401 before 400/422, as on
    // every route), but the question names the VPS whose grants ride on the
    // caller's lookup: one Redis round trip.
    let asked = question.and_then(|extract::Json(q)| q.target().map(|target| (q, target)));
    let reads = match &asked {
        Ok((_, (vps_id, _))) => vps::access::model(&state.stores.redis, *vps_id).reads().to_vec(),
        Err(_) => Vec::new(),
    };
    let (caller, answers) = credentials.authenticated(&state, &reads).await?;
    let (question, (vps_id, manage)) = asked?;
    // The route takes `vps:connect`; managing needs more of a token.
    if manage {
        caller.needs(Scope::VpsManage)?;
    }
    caller.within_resources(vps_id, true)?;
    let groups: Vec<u64> = caller.user().map(|u| u.groups.iter().map(|g| g.id).collect()).unwrap_or_default();
    let user = caller.user().map(|u| (u.id, groups.as_slice()));
    match vps::access::decide(&state.stores, vps_id, manage, caller.role(), user, &answers).await? {
        Decision::Allowed => {
            let actor = caller.actor();
            Ok(Json(Allowed { allowed: true, user: actor.name, user_id: actor.id, role: caller.role() }))
        }
        Decision::NotFound => Err(ApiError::not_found("VPS not found")),
        Decision::Denied => {
            let event = client
                .event(caller.actor(), "vps.authorize", Outcome::Denied)
                .target(question.resource.clone())
                .detail(question.action.clone());
            audit::record(&state.stores, &event).await?;
            Err(ApiError::forbidden("not_allowed", format!("Not allowed to {} {}", question.action, question.resource)))
        }
    }
}
