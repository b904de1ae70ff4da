//! The `tasks` endpoint group (`/api`): submission, visibility and the approval
//! workflow.

mod decide;
mod list;
mod submit;

use shared::http::{DocumentedRoute, routes};
use shared::tokens::Scope;
use shared::{AppState, Routes};

/// The group's routes, each declared once (method and path are on the handler).
pub fn routes() -> Routes {
    Routes::group("tasks")
        .route(routes!(submit::submit), Scope::TasksSubmit)
        .route(routes!(submit::submit_compat), Scope::TasksSubmit)
        .route(routes!(list::list), Scope::Read)
        .route(routes!(list::pending), Scope::Read)
        .route(routes!(list::pending_count), Scope::Read)
        .route(routes!(list::get), Scope::Read.on_resources())
        .route(routes!(list::get_compat), Scope::Read.on_resources())
        .route(routes!(decide::approve), Scope::TasksApprove.on_resources())
        .route(body_optional(routes!(decide::reject)), Scope::TasksApprove.on_resources())
        .route(routes!(decide::cancel), Scope::TasksSubmit.on_resources())
        .route(routes!(decide::report_status), Scope::TasksApprove.on_resources())
}

/// A rejection's body is optional (the reason may come as `?reason=`), which
/// the annotation cannot say without a `null` alternative.
fn body_optional(mut route: DocumentedRoute) -> DocumentedRoute {
    let (_, paths, _) = &mut route;
    let items = paths.paths.values_mut();
    let operations =
        items.flat_map(|item| [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete]);
    for body in operations.flatten().filter_map(|operation| operation.request_body.as_mut()) {
        body.required = Some(utoipa::openapi::Required::False);
    }
    route
}

/// Retries the announcements that are due (the local server runs this
/// periodically); returns how many went through.
pub async fn retry_dispatch(state: &AppState) -> Result<usize, shared::db::StoreError> {
    match &state.keys.dispatcher {
        Some(dispatcher) => shared::tasks::dispatch::retry_due(dispatcher, &state.stores).await,
        None => Ok(0),
    }
}
