//! The request pipeline shared by the Lambda binaries and the local server:
//! application state, the route table (each route declared once), the tower
//! layers, the two runners, the JSON extractor, pagination and the OpenAPI pieces.

pub mod extract;
mod layers;
pub mod openapi;
pub mod page;
mod routes;
mod run;
mod state;

pub use layers::{RequestId, finish};
pub use routes::{DocumentedRoute, RouteInfo, Routes};
pub use run::{run_lambda, run_scheduled, serve_local, shutdown_signal};
pub use state::{App, AppState, Keys};
/// `routes!(handler)`: a handler with its `#[utoipa::path]` operation, for [`Routes::route`].
pub use utoipa_axum::routes;
