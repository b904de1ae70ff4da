//! `GET /api/vps` (viewer+) and `GET /api/vps/my` (user+).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use shared::auth::Require;
use shared::auth::min;
use shared::http::extract::Query;
use shared::http::page;
use shared::tasks::{self, Filter};
use shared::tasks::{TaskStatus, TaskType};
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

/// The statuses of a VPS that is alive: what `GET /api/vps/status` lists.
const ACTIVE: [TaskStatus; 4] = [TaskStatus::Pending, TaskStatus::Assigning, TaskStatus::Running, TaskStatus::Paused];

/// How many pages of one status [`status`] reads. Each examines at most
/// [`tasks::MAX_EXAMINED`] (1,000) tasks of that status, of every type; 20
/// pages find every live VPS among 20,000 live tasks per status, far more than
/// a cluster runs. Past that the answer leaves the oldest out (logged).
const STATUS_PAGES: usize = 20;

/// The live VPS (pending, assigning, running, paused), newest first, in the
/// shape of `GET /api/vps`: what the original dashboard's home page polls.
/// One array, no paging (the dashboard reads no cursor).
#[utoipa::path(get, path = "/api/vps/status", tag = "vps",
    responses((status = 200, description = "Every live VPS with its assignees", body = Vec<VpsEntry>)))]
pub async fn status(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Viewer>,
) -> ApiResult<Json<Vec<VpsEntry>>> {
    let mut found = Vec::new();
    for status in ACTIVE {
        let filter = Filter { status: Some(status), task_type: Some(TaskType::Vps), ..Filter::default() };
        let mut after: Option<String> = None;
        for page in 1..=STATUS_PAGES {
            let (tasks, next) = tasks::list(&state.stores, &filter, false, 500, after.as_deref()).await?;
            found.extend(tasks);
            match next {
                None => break,
                Some(_) if page == STATUS_PAGES => {
                    tracing::warn!(%status, "live VPS beyond the page bound are left out of /api/vps/status");
                }
                next => after = next,
            }
        }
    }
    found.sort_unstable_by_key(|t| std::cmp::Reverse(t.id));
    Ok(Json(vps::entries(&state.stores, &found, caller.role(), caller.user_id()).await?))
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
