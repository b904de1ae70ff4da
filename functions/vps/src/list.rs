//! `GET /api/vps` (viewer+) and `GET /api/vps/my` (user+).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Query;
use shared::http::page;
use shared::tasks::TaskType;
use shared::tasks::{self, Filter};
use shared::vps::{self, Assignee, VpsEntry};
use shared::{ApiResult, AppState};

// The VPS with their assignees, each showing the task as `GET /api/tasks`
// does (redacted unless the caller owns it or is an operator).
#[utoipa::path(get, path = "/api/vps", tag = "vps", params(page::PageQuery),
    responses((status = 200, description = "A page of VPS instances with their assignees", body = Vec<VpsEntry>)))]
pub async fn list(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Viewer>,
    Query(q): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let after = page::decode_checked(q.cursor.as_deref(), tasks::is_list_position)?;
    let filter = Filter { task_type: Some(TaskType::Vps), ..Filter::default() };
    let (found, next) = tasks::list(&state.stores, &filter, false, limit, after.as_deref()).await?;
    // A bounded number of reads, whatever the page's length (see `vps::entries`).
    let entries = vps::entries(&state.stores, &found, caller.role(), caller.user_id()).await?;
    Ok(page::respond(entries, next.map(|n| page::encode(&n))))
}

/// How many pages of the caller's own tasks [`my`] reads looking for their
/// VPS. A page examines at most [`tasks::MAX_EXAMINED`] (1,000) of the owner's
/// tasks, of every type, newest first, and may end short or empty with a
/// cursor, so one page alone loses the VPS behind 1,000 newer tasks; 20 pages
/// find every owned VPS among the owner's newest 20,000 tasks. Past that the
/// answer leaves older owned VPS out (logged as a warning); VPS the caller is
/// assigned to, directly or through a group, are listed whatever the bound.
const MY_OWNED_PAGES: usize = 20;

/// What the caller owns, is assigned to, or is assigned to through a group.
#[utoipa::path(get, path = "/api/vps/my", tag = "vps",
    responses((status = 200, description = "VPS instances the caller owns or is assigned to, directly or through a group", body = Vec<VpsEntry>),
        (status = 403, description = "Below user", body = shared::http::openapi::ErrorBody)))]
pub async fn my(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::User>,
) -> ApiResult<Json<Vec<VpsEntry>>> {
    let Some(me) = caller.user() else {
        return Ok(Json(Vec::new()));
    };
    let mut ids = vps::assigned_to(&state.stores, Assignee::User(me.id)).await?;
    for group in &me.groups {
        ids.extend(vps::assigned_to(&state.stores, Assignee::Group(group.id)).await?);
    }
    let owned = Filter { owner: Some(Some(me.id)), task_type: Some(TaskType::Vps), ..Filter::default() };
    let mut after: Option<String> = None;
    for page in 1..=MY_OWNED_PAGES {
        let (mine, next) = tasks::list(&state.stores, &owned, false, 500, after.as_deref()).await?;
        ids.extend(mine.iter().map(|t| t.id));
        match next {
            None => break,
            Some(_) if page == MY_OWNED_PAGES => {
                tracing::warn!(
                    user_id = me.id,
                    pages = page,
                    "owned VPS beyond the page bound are left out of /api/vps/my"
                );
            }
            next => after = next,
        }
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.dedup();
    let mut found = tasks::get_many(&state.stores, &ids).await?;
    found.retain(|t| t.spec.task_type == TaskType::Vps);
    Ok(Json(vps::entries(&state.stores, &found, caller.role(), caller.user_id()).await?))
}
