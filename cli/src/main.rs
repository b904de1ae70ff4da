//! `kohakuriver`: the command-line client of the KohakuRiver user management
//! service. It talks HTTP only.

use clap::Parser;

#[derive(Parser)]
#[command(name = "kohakuriver", version, about = "KohakuRiver command-line client")]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
