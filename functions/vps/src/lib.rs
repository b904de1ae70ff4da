//! The `vps` endpoint group: VPS instances (tasks of type `vps`), their
//! assignment to users and groups, and `/api/authorize`, the question an SSH
//! proxy or terminal gateway asks.

mod assign;
mod authorize;
mod list;

mod schema;

use shared::Routes;
use utoipa::OpenApi;

/// The group's routes.
pub fn routes() -> Routes {
    Routes::group("vps")
        .get("/api/vps", list::list)
        .get("/api/vps/my", list::my)
        .post("/api/vps/{id}/assign", assign::assign)
        .delete("/api/vps/{id}/assign/{user_id}", assign::unassign_user)
        .delete("/api/vps/{id}/assign/group/{group_id}", assign::unassign_group)
        .get("/api/vps/{id}/assignments", assign::assignments)
        .post("/api/authorize", authorize::authorize)
}

/// The group's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(OpenApi)]
    #[openapi(paths(
        list::list,
        list::my,
        assign::assign,
        assign::unassign_user,
        assign::unassign_group,
        assign::assignments,
        authorize::authorize
    ))]
    struct Doc;
    Doc::openapi()
}
