//! The request pipeline shared by the Lambda binaries and the local server:
//! application state, the route table, the tower layers and the two runners.

mod layers;
mod routes;
mod run;
mod state;

pub use layers::{RequestId, finish};
pub use routes::{RouteInfo, Routes};
pub use run::{run_lambda, run_scheduled, serve_local, shutdown_signal};
pub use state::{App, AppState, Keys};
