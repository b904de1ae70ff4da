//! `GET /api/vps` (viewer+) and `GET /api/vps/my` (user+).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use shared::auth::Caller;
use shared::auth::Require;
use shared::auth::min;
use shared::groups;
use shared::http::extract::Query;
use shared::http::page;
use shared::tasks::TaskType;
use shared::tasks::{self, Filter};
use shared::types::Role;
use shared::users;
use shared::vps::{self, Assignee, VpsView};
use shared::{ApiResult, AppState};

/// A VPS as listed: the task (redacted unless the caller owns it or is an
/// operator) with `assignees` (users, as the original) and `assigned_groups`.
pub async fn describe(state: &AppState, caller: &Caller, view: &VpsView) -> ApiResult<Value> {
    let full = caller.role().at_least(Role::Operator)
        || (view.task.owner.id.is_some() && view.task.owner.id == caller.user_id());
    let mut body = task_json(view, full);
    let mut people = Vec::new();
    let mut group_ids = Vec::new();
    for a in &view.assignments {
        match a.assignee {
            Assignee::User(id) => {
                if let Some(u) = users::get(&state.stores, id).await? {
                    people.push(json!({"id": u.id, "username": u.username, "display_name": u.display_name}));
                }
            }
            Assignee::Group(id) => group_ids.push(id),
        }
    }
    let named = if group_ids.is_empty() { Vec::new() } else { groups::refs(&state.stores, &group_ids).await? };
    if let Some(map) = body.as_object_mut() {
        map.insert("assignees".into(), json!(people));
        map.insert("assigned_groups".into(), json!(named));
    }
    Ok(body)
}

/// The task part of a VPS, as the tasks group shows tasks.
fn task_json(view: &VpsView, full: bool) -> Value {
    let t = &view.task;
    json!({
        "task_id": t.id.to_string(),
        "task_type": "vps",
        "name": t.spec.name,
        "status": t.status,
        "owner_id": t.owner.id,
        "owner_username": if t.owner_deleted { format!("{} (deleted)", t.owner.username) } else { t.owner.username.clone() },
        "required_cores": t.spec.required_cores,
        "required_gpus": t.spec.required_gpus,
        "required_memory_bytes": t.spec.required_memory_bytes,
        "targets": t.spec.target.iter().collect::<Vec<_>>(),
        "container_name": t.spec.container_name,
        "registry_image": t.spec.registry_image,
        "submitted_at": t.submitted_at,
        "updated_at": t.updated_at,
        "command": if full { json!(t.spec.command) } else { Value::Null },
        "redacted": !full,
    })
}

#[utoipa::path(get, path = "/api/vps", tag = "vps", params(page::PageQuery),
    responses((status = 200, description = "A page of VPS instances with their assignees", body = Vec<crate::schema::VpsEntry>)))]
pub async fn list(
    State(state): State<AppState>,
    Require(caller, ..): Require<min::Viewer>,
    Query(q): Query<page::PageQuery>,
) -> ApiResult<Response> {
    let limit = page::limit(q.limit)?;
    let after = page::decode_checked(q.cursor.as_deref(), tasks::is_list_position)?;
    let filter = Filter { task_type: Some(TaskType::Vps), ..Filter::default() };
    let (found, next) = tasks::list(&state.stores, &filter, false, limit, after.as_deref()).await?;
    let mut out = Vec::with_capacity(found.len());
    for task in found {
        if let Some(view) = vps::read(&state.stores, task.id).await? {
            out.push(describe(&state, &caller, &view).await?);
        }
    }
    Ok(page::respond(out, next.map(|n| page::encode(&n))))
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
    responses((status = 200, description = "VPS instances the caller owns or is assigned to, directly or through a group", body = Vec<crate::schema::VpsEntry>),
        (status = 403, description = "Below user", body = shared::http::openapi::ErrorBody)))]
pub async fn my(State(state): State<AppState>, Require(caller, ..): Require<min::User>) -> ApiResult<Json<Vec<Value>>> {
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
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(view) = vps::read(&state.stores, id).await? {
            out.push(describe(&state, &caller, &view).await?);
        }
    }
    Ok(Json(out))
}
