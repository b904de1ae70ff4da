//! Log output: JSON lines under Lambda (CloudWatch parses them), readable text
//! locally. `RUST_LOG` filters as usual; the default is `info`. Terminal colour
//! codes only when stderr is a terminal and `NO_COLOR` is unset or empty, so logs
//! written to a file or a pipe stay plain text.

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = use_ansi(format, std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // The request span carries request_id; both formats print the span's fields
    // on every line logged inside it.
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Whether log lines carry ANSI colour codes: text to a terminal, unless
/// `NO_COLOR` is set to something (<https://no-color.org>).
fn use_ansi(format: LogFormat, stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    format == LogFormat::Text && stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_for_text_on_a_terminal_without_no_color() {
        assert!(use_ansi(LogFormat::Text, true, None));
        assert!(use_ansi(LogFormat::Text, true, Some(OsStr::new(""))));
        assert!(!use_ansi(LogFormat::Text, false, None), "file or pipe");
        assert!(!use_ansi(LogFormat::Text, true, Some(OsStr::new("1"))), "NO_COLOR");
        assert!(!use_ansi(LogFormat::Json, true, None), "JSON lines");
    }
}
