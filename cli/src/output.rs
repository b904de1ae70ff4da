//! What goes to stdout: tables for people, JSON for scripts.

use std::io::Write;

use anyhow::Result;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// Writes `text` and a newline to stdout. A closed pipe (`| head`) is not an error.
pub fn line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints `value` as pretty JSON.
pub fn json(value: &Value) -> Result<()> {
    line(&serde_json::to_string_pretty(value)?)
}

/// Prints a table with `headers` and one row per item, each cell taken from
/// the item by `columns` (functions of the item).
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> Result<()> {
    if rows.is_empty() {
        return line("(none)");
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(headers);
    for row in rows {
        table.add_row(row);
    }
    line(&table.to_string())
}

/// Prints `key: value` pairs as a two-column table.
pub fn fields(pairs: &[(&str, String)]) -> Result<()> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    for (k, v) in pairs {
        table.add_row(vec![(*k).to_owned(), v.clone()]);
    }
    line(&table.to_string())
}

/// A JSON value as a table cell: `-` for null, names for `{id, name}` lists.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i.get("name").or_else(|| i.get("username")) {
                Some(name) => cell(name),
                None => cell(i),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => value.to_string(),
    }
}

/// The cells `keys` of `item`.
pub fn row(item: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| cell(&item[*k])).collect()
}

/// Prints the server's `message` (or the whole answer as JSON with `--json`).
pub fn message(json_mode: bool, answer: &Value, fallback: &str) -> Result<()> {
    if json_mode {
        return json(answer);
    }
    line(answer["message"].as_str().unwrap_or(fallback))
}
