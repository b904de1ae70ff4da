//! `kohakuriver`: the command-line client of the KohakuRiver user management
//! service. It talks HTTP only.

mod args;
mod client;
mod commands;
mod credentials;
mod error;
mod output;
mod prompt;
mod server;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return report(&anyhow::Error::new(err).context("cannot start the async runtime")),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Prints the error on stderr and turns it into the documented exit code.
fn report(err: &anyhow::Error) -> ExitCode {
    let code = err.downcast_ref::<CliError>().map_or(error::GENERAL, |e| e.exit_code);
    eprintln!("error: {err:#}");
    ExitCode::from(code)
}
