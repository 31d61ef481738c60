//! Printing: text for people, exactly one JSON value for `--json`.

use serde::Serialize;

/// Prints `value` as JSON, or the text `human` builds.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human());
    }
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
