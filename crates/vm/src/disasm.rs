//! The disassembler: validated bytecode back to `.gate` text that assembles
//! to the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::instr::Instr;
use crate::script::Script;
use crate::script_error::ScriptError;
use crate::value::{int_from_le, int_to_pushx};

/// Disassembles `bytes`; `SKIP` targets get labels `L1:`, `L2:` … in order.
pub fn disassemble(bytes: &[u8]) -> Result<String, ScriptError> {
    let script = Script::decode(bytes)?;
    let mut labels = BTreeMap::new();
    for (at, instr) in script.instructions() {
        if let Instr::Skip(o) = instr {
            let target = at
                .saturating_add(crate::instr::SKIP_LEN)
                .saturating_add(usize::from(o));
            labels.insert(target, 0usize);
        }
    }
    for (n, v) in labels.values_mut().enumerate() {
        *v = n + 1;
    }
    let mut out = String::new();
    for (at, instr) in script.instructions() {
        if let Some(n) = labels.get(&at) {
            let _ = writeln!(out, "L{n}:");
        }
        let _ = writeln!(out, "    {}", line(at, &instr, &labels));
    }
    if let Some(n) = labels.get(&bytes.len()) {
        let _ = writeln!(out, "L{n}:");
    }
    Ok(out)
}

fn line(at: usize, instr: &Instr<'_>, labels: &BTreeMap<usize, usize>) -> String {
    let m = instr.op().mnemonic();
    match instr {
        Instr::PushData(d) => format!("{m} {}", bytes_text(d)),
        Instr::PushX(d) => format!("{m} {}", pushx_text(d)),
        Instr::Skip(o) => {
            let target = at
                .saturating_add(crate::instr::SKIP_LEN)
                .saturating_add(usize::from(*o));
            match labels.get(&target) {
                Some(n) => format!("{m} L{n}"),
                None => format!("{m} {o}"),
            }
        }
        Instr::State(id) => format!("{m} {}", id.name()),
        Instr::Call(b) | Instr::Inspect(b) => format!("{m} {b}"),
        Instr::Alloc(h) => {
            let mut s = m.to_string();
            for chunk in h.chunks(32) {
                let _ = write!(s, " {}", hex(chunk));
            }
            s
        }
        Instr::Link(id) => format!("{m} {}", hex(&id[..])),
        Instr::Elnk { service, data } => format!("{m} {} {}", bytes_text(service), hex(data)),
        Instr::Plain(_) => m.to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A quoted string when the bytes are printable UTF-8, else hex.
fn bytes_text(b: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(b) else {
        return hex(b);
    };
    let printable = |c: char| !c.is_control() || matches!(c, '\n' | '\t' | '\r');
    if !b.is_empty() && !text.chars().all(printable) {
        return hex(b);
    }
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Decimal when the width is the minimal one, else the exact bytes as hex
/// (most significant first) so the width survives re-assembly.
fn pushx_text(d: &[u8]) -> String {
    match int_from_le(d) {
        Some(i) if int_to_pushx(i) == d => i.to_string(),
        _ => {
            let mut be = d.to_vec();
            be.reverse();
            hex(&be)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble;

    #[test]
    fn labels_and_operands() {
        let src = "STATE own\nSKIP pay\nOK\npay:\nPUSHX -300\nPAY\nPUSHDATA \"hi \\\"x\\\"\\n\"\nPUSHDATA 0x00ff\nPUSHX 0x0005\nCALL 77\nOK\n";
        let b = assemble(src).unwrap();
        let text = disassemble(&b).unwrap();
        assert_eq!(
            text,
            "    STATE own\n    SKIP L1\n    OK\nL1:\n    PUSHX -300\n    PAY\n    PUSHDATA \"hi \\\"x\\\"\\n\"\n    PUSHDATA 0x00ff\n    PUSHX 0x0005\n    CALL 77\n    OK\n"
        );
        assert_eq!(assemble(&text).unwrap(), b);
    }

    #[test]
    fn label_at_end() {
        let b = assemble("PUSHX 1\nSKIP out\nOK\nout:\n").unwrap();
        let text = disassemble(&b).unwrap();
        assert!(text.ends_with("L1:\n"), "{text}");
        assert_eq!(assemble(&text).unwrap(), b);
    }

    #[test]
    fn invalid_bytes_are_refused() {
        assert!(disassemble(&[0xee]).is_err());
    }
}
