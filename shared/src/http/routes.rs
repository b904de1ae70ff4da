//! The route table. Each endpoint group declares each route once, as
//! `.route(routes!(handler), scope)`: the handler's `#[utoipa::path]` attribute is the
//! one place its method and path are written, and from that one declaration
//! come the axum route (for Lambda and the local server), the route's part of
//! the OpenAPI document, and its line in the route list (for the SAM template,
//! the authorization matrix and the Lambda-versus-local checks).

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use http::Method;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::PathItem;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::http::AppState;
use crate::tokens::Needs;

/// One route: which group serves it, its method and its path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub group: &'static str,
    pub method: Method,
    pub path: &'static str,
    /// What it asks of an API token.
    pub needs: Needs,
}

/// What `routes!(handler)` gives: the handler as an axum method router, with
/// its OpenAPI operation and the schemas that operation names.
pub type DocumentedRoute = UtoipaMethodRouter<AppState>;

/// A group's routes, or several groups merged.
#[derive(Default)]
pub struct Routes {
    router: OpenApiRouter<AppState>,
    list: Vec<RouteInfo>,
    group: &'static str,
}

impl Routes {
    /// An empty table for the group `group` (e.g. `"health"`), which is also
    /// its Lambda function's name (`krv-health`).
    pub fn group(group: &'static str) -> Self {
        Self { group, ..Self::default() }
    }

    /// Adds one handler, declared by its `#[utoipa::path]` attribute, with
    /// what it asks of an API token (a scope, see `tokens::scope`):
    /// `.route(routes!(list::list_users), Scope::Read)`. Paths are absolute
    /// (`/api/...`), so groups merge without nesting. The token's scope is
    /// checked when the caller is resolved (`auth::resolve`), and the
    /// route's OpenAPI operation says which scope it takes.
    ///
    /// # Panics
    /// When `route` spans several paths (`routes!(a, b)` with `a` and `b` on
    /// different paths would serve both handlers on both paths): write one
    /// `routes!` per handler.
    pub fn route(mut self, route: DocumentedRoute, needs: impl Into<Needs>) -> Self {
        let needs = needs.into();
        let (schemas, mut paths, method_router) = route;
        for item in paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let said = match needs.scope {
                    Some(scope) => format!("API tokens need the scope `{scope}`"),
                    None => "API tokens need no scope".to_owned(),
                };
                let limits = if needs.resources { "; resource limits are honoured" } else { "" };
                let description = operation.description.take().unwrap_or_default();
                operation.description = Some(format!("{description}\n\n{said}{limits}.").trim_start().to_owned());
            }
        }
        let route = (schemas, paths, method_router.layer(axum::Extension(needs)));
        let (_, paths, _) = &route;
        assert!(
            paths.paths.len() == 1,
            "one routes!(handler) per route: {:?} declares {} paths",
            paths.paths.keys().collect::<Vec<_>>(),
            paths.paths.len()
        );
        for (path, item) in &paths.paths {
            let path = intern(path);
            self.list.extend(methods_of(item).map(|method| RouteInfo { group: self.group, method, path, needs }));
        }
        self.router = self.router.routes(route);
        self
    }

    /// Adds a route that the OpenAPI document does not describe (probes in
    /// tests). The groups declare theirs with [`Routes::route`].
    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.undocumented(Method::GET, MethodFilter::GET, path, handler)
    }

    /// Like [`Routes::get`], for POST.
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.undocumented(Method::POST, MethodFilter::POST, path, handler)
    }

    fn undocumented<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        let needs = Needs::from(crate::tokens::Scope::Inherit);
        self.list.push(RouteInfo { group: self.group, method, path, needs });
        self
    }

    /// Both tables in one.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.list.extend(other.list);
        self
    }

    /// Every route, in the order they were added.
    pub fn list(&self) -> &[RouteInfo] {
        &self.list
    }

    /// The operations of these routes (and the schemas they name), without the
    /// parts every group shares (see [`crate::http::openapi::finish`]).
    pub fn into_openapi(self) -> OpenApi {
        self.router.into_openapi()
    }

    /// The finished service: routes, layers and state (see [`crate::http::finish`]).
    pub fn into_router(self, state: AppState) -> Router {
        let (router, _) = self.router.split_for_parts();
        crate::http::finish(router, state, None)
    }

    /// [`Routes::into_router`], with `pages` answering the paths outside the
    /// API that no route serves (the local server's web panel).
    pub fn into_router_with_pages(self, state: AppState, pages: Router) -> Router {
        let (router, _) = self.router.split_for_parts();
        crate::http::finish(router, state, Some(pages))
    }
}

/// The methods a path item has an operation for.
fn methods_of(item: &PathItem) -> impl Iterator<Item = Method> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.is_some().then_some(method))
}

/// The path as a `&'static str`, leaked once per distinct path: the route
/// list is rebuilt with every router (each test app builds one), and the
/// paths are a fixed, small set.
fn intern(path: &str) -> &'static str {
    static PATHS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut paths = PATHS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = paths.get(path) {
        return known;
    }
    let leaked: &'static str = Box::leak(path.to_owned().into_boxed_str());
    paths.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::routes;
    use crate::tokens::Scope;

    #[utoipa::path(get, path = "/api/probe/{id}", responses((status = 200, description = "ok")))]
    async fn read() {}

    #[utoipa::path(delete, path = "/api/probe/{id}", responses((status = 204, description = "gone")))]
    async fn remove() {}

    #[utoipa::path(get, path = "/api/other", responses((status = 200, description = "ok")))]
    async fn other() {}

    #[test]
    fn one_declaration_gives_the_route_list_and_the_operations() {
        let routes = Routes::group("probe").route(routes!(read), Scope::Read).route(routes!(remove), Scope::Inherit);
        let route =
            |method, scope: Scope| RouteInfo { group: "probe", method, path: "/api/probe/{id}", needs: scope.into() };
        assert_eq!(routes.list(), [route(Method::GET, Scope::Read), route(Method::DELETE, Scope::Inherit)]);
        let api = routes.into_openapi();
        assert_eq!(api.paths.paths.len(), 1);
        let item = &api.paths.paths["/api/probe/{id}"];
        assert!(item.get.is_some() && item.delete.is_some() && item.post.is_none());
    }

    #[test]
    fn merged_groups_keep_their_names() {
        let merged = Routes::group("a")
            .route(routes!(read), Scope::Read)
            .merge(Routes::group("b").route(routes!(other), Scope::Read));
        let groups: Vec<_> = merged.list().iter().map(|r| (r.group, r.path)).collect();
        assert_eq!(groups, [("a", "/api/probe/{id}"), ("b", "/api/other")]);
    }

    #[test]
    #[should_panic(expected = "one routes!(handler) per route")]
    fn a_declaration_spanning_two_paths_is_refused() {
        // `routes!(remove, other)` would serve both handlers on both paths.
        let _ = Routes::group("probe").route(routes!(remove, other), Scope::Read);
    }
}
