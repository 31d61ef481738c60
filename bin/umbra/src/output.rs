//! Printing: text for people, exactly one JSON value for `--json`.

use serde::Serialize;
use std::io::Write;

/// Prints `value` as JSON, or the text `human` builds.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    let text = if json {
        serde_json::to_string_pretty(value)?
    } else {
        human()
    };
    // A closed pipe (`umbra block | head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    Ok(())
}

/// Errors go to stderr: a plain message, or a JSON object with `--json`.
pub fn print_error(e: &anyhow::Error, json: bool) {
    let code = e
        .downcast_ref::<umbra_rpc::RpcClientError>()
        .and_then(|c| c.code());
    if json {
        let v = serde_json::json!({ "error": { "message": format!("{e:#}"), "code": code } });
        eprintln!("{v}");
    } else {
        eprintln!("error: {e:#}");
    }
}
