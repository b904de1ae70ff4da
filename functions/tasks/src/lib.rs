//! The `tasks` endpoint group (`/api`): submission, visibility and the approval
//! workflow.

mod decide;
mod list;
mod submit;
mod view;

mod schema;
use shared::{AppState, Routes};
use utoipa::OpenApi;

pub use view::view;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("tasks")
        .post("/api/tasks", submit::submit)
        .post("/api/submit", submit::submit_compat)
        .get("/api/tasks", list::list)
        .get("/api/tasks/pending-approval", list::pending)
        .get("/api/tasks/pending-approval/count", list::pending_count)
        .get("/api/tasks/{id}", list::get)
        .get("/api/status/{id}", list::get_compat)
        .post("/api/approve/{id}", decide::approve)
        .post("/api/reject/{id}", decide::reject)
        .post("/api/tasks/{id}/cancel", decide::cancel)
        .post("/api/tasks/{id}/status", decide::report_status)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(
        submit::submit,
        submit::submit_compat,
        list::list,
        list::pending,
        list::pending_count,
        list::get,
        list::get_compat,
        decide::approve,
        decide::reject,
        decide::cancel,
        decide::report_status
    ))]
    struct Doc;
    let mut doc = Doc::openapi();
    // A rejection's body is optional (the reason may come as `?reason=`), which
    // the annotation cannot say without a `null` alternative.
    if let Some(body) = doc
        .paths
        .paths
        .get_mut("/api/reject/{id}")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.request_body.as_mut())
    {
        body.required = Some(utoipa::openapi::Required::False);
    }
    doc
}

/// Retries the announcements that are due (the local server runs this
/// periodically); returns how many went through.
pub async fn retry_dispatch(state: &AppState) -> Result<usize, shared::db::StoreError> {
    match &state.keys.dispatcher {
        Some(dispatcher) => shared::tasks::dispatch::retry_due(dispatcher, &state.stores, |t| view(t, true)).await,
        None => Ok(0),
    }
}
