//! The route table: each endpoint group lists its routes once, and the same list
//! builds the axum router (for Lambda and the local server) and answers "which
//! routes exist" (for the authorization matrix and the infrastructure checks).

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use http::Method;

use crate::http::AppState;

/// One route: which group serves it, its method and its path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub group: &'static str,
    pub method: Method,
    pub path: &'static str,
}

/// A group's routes, or several groups merged.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    list: Vec<RouteInfo>,
    group: &'static str,
}

impl Routes {
    /// An empty table for the group `group` (e.g. `"health"`).
    pub fn group(group: &'static str) -> Self {
        Self { router: Router::new(), list: Vec::new(), group }
    }

    /// Adds `method path → handler`. Paths are absolute (`/api/...`), so groups
    /// merge without nesting.
    fn add<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.list.push(RouteInfo { group: self.group, method, path });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, handler)
    }
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, handler)
    }
    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, handler)
    }
    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PATCH, MethodFilter::PATCH, path, handler)
    }
    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, handler)
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

    /// The finished service: routes, layers and state (see [`crate::http::finish`]).
    pub fn into_router(self, state: AppState) -> Router {
        crate::http::finish(self.router, state)
    }
}
