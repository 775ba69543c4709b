//! What `device` and `connect` print: a line for a person or, with
//! `--json`, one JSON object per line for a script.

use std::io::Write as _;

/// Prints `value` as JSON with `json`, else `text`; flushed at once, so
/// that a script reading the pipe sees each event as it happens.
pub fn emit(json: bool, value: serde_json::Value, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(out, "{value}")
    } else {
        writeln!(out, "{text}")
    };
    let _ = out.flush();
}
