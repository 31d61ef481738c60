//! `umbra gate asm|disasm|check`: gate scripts offline, no node needed.

use crate::cli::Global;
use crate::cli_box::GateCmd;
use crate::output::emit;
use anyhow::{Context, bail};
use std::path::Path;

/// Largest file `gate` reads: a script is at most 32 KiB, as hex twice that.
const MAX_GATE_FILE: u64 = 1 << 20;

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_GATE_FILE {
        bail!(
            "{} is {} bytes; gate files are far smaller",
            path.display(),
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn source(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read(path)?).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

fn assemble(path: &Path) -> anyhow::Result<(Vec<u8>, u64)> {
    let src = source(path)?;
    let code = umbra_vm::assemble(&src).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))?;
    let bound = umbra_vm::Script::decode(&code)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .gas_bound();
    Ok((code, bound))
}

pub fn run(cmd: GateCmd, g: &Global) -> anyhow::Result<()> {
    match cmd {
        GateCmd::Asm { file, out } => {
            let (code, bound) = assemble(&file)?;
            let hex = hex::encode(&code);
            if let Some(out) = &out {
                std::fs::write(out, &code).with_context(|| format!("writing {}", out.display()))?;
            }
            let v = serde_json::json!({ "hex": hex, "size": code.len(), "gas_bound": bound });
            emit(g.json, &v, || match &out {
                Some(o) => format!(
                    "wrote {} bytes to {} (gas bound {bound})",
                    code.len(),
                    o.display()
                ),
                None => hex.clone(),
            })
        }
        GateCmd::Disasm { file } => {
            let raw = read(&file)?;
            // Hex text if it reads as hex, raw bytecode otherwise.
            let text = String::from_utf8_lossy(&raw);
            let trimmed = text.trim().trim_start_matches("0x");
            let code = if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
                hex::decode(trimmed).context("odd-length hex")?
            } else {
                raw
            };
            let src = umbra_vm::disassemble(&code)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let v = serde_json::json!({ "source": src });
            emit(g.json, &v, || src.trim_end().to_string())
        }
        GateCmd::Check { file } => {
            let (code, bound) = assemble(&file)?;
            let v = serde_json::json!({ "ok": true, "size": code.len(), "gas_bound": bound });
            emit(g.json, &v, || {
                format!(
                    "{}: ok, {} bytes, gas bound {bound} (the most any run can use)",
                    file.display(),
                    code.len()
                )
            })
        }
    }
}
