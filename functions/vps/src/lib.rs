//! The `vps` endpoint group: VPS instances (tasks of type `vps`), their
//! assignment to users and groups, and `/api/authorize`, the question an SSH
//! proxy or terminal gateway asks.

mod assign;
mod authorize;
mod list;

use shared::Routes;

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
