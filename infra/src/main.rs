//! Writes the SAM template: `cargo run -p krv-infra --bin sam-template > infra/template.json`.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&krv_infra::template()).map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
}
