//! The `.gate` assembler: text to bytecode.
//!
//! One instruction per line; `name:` defines a label; `SKIP name` jumps
//! forward to it. The output is checked with `Script::decode` so that what
//! assembles is exactly what the chain accepts. Syntax in `docs/GATE_VM.md`.

use std::collections::BTreeMap;

use crate::asm_lex::{Token, parse_hex, tokenize};
use crate::instr::{Instr, SKIP_LEN};
use crate::limits::MAX_INT_BYTES;
use crate::opcode::Op;
use crate::script::Script;
use crate::state::StateId;
use crate::value::{Int, int_to_pushx};

/// An assembly error on a 1-based source line.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct AsmError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One assembled line: ready bytes, or a SKIP waiting for its label.
enum Piece {
    Bytes(Vec<u8>),
    Skip(String),
}

struct Placed {
    line: usize,
    offset: usize,
    piece: Piece,
}

/// Assembles `.gate` source into validated bytecode.
pub fn assemble(src: &str) -> Result<Vec<u8>, AsmError> {
    let mut placed = Vec::new();
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    let mut offset = 0usize;
    for (i, text) in src.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| AsmError { line, message };
        let mut tokens = tokenize(text).map_err(err)?.into_iter().peekable();
        if let Some(Token::Word(w)) = tokens.peek()
            && let Some(name) = w.strip_suffix(':')
        {
            check_label(name).map_err(err)?;
            if labels.insert(name.to_string(), offset).is_some() {
                return Err(err(format!("label `{name}` defined twice")));
            }
            tokens.next();
        }
        let tokens: Vec<Token> = tokens.collect();
        let Some((head, operands)) = tokens.split_first() else {
            continue;
        };
        let piece = instruction(head, operands).map_err(err)?;
        let size = match &piece {
            Piece::Bytes(b) => b.len(),
            Piece::Skip(_) => SKIP_LEN,
        };
        placed.push(Placed {
            line,
            offset,
            piece,
        });
        offset = offset.saturating_add(size);
    }

    let mut out = Vec::with_capacity(offset);
    for p in &placed {
        match &p.piece {
            Piece::Bytes(b) => out.extend_from_slice(b),
            Piece::Skip(label) => {
                let err = |message: String| AsmError {
                    line: p.line,
                    message,
                };
                let from = p.offset.saturating_add(SKIP_LEN);
                let skip = match label.parse::<u16>() {
                    Ok(n) => n,
                    Err(_) => {
                        let target = *labels
                            .get(label)
                            .ok_or_else(|| err(format!("undefined label `{label}`")))?;
                        let delta = target.checked_sub(from).ok_or_else(|| {
                            err(format!(
                                "label `{label}` is behind this SKIP: jumps only go forward"
                            ))
                        })?;
                        u16::try_from(delta).map_err(|_| {
                            err(format!(
                                "SKIP to `{label}` is {delta} bytes, more than 65535"
                            ))
                        })?
                    }
                };
                encode(&Instr::Skip(skip), &mut out).map_err(err)?;
            }
        }
    }

    Script::decode(&out).map_err(|e| AsmError {
        // The decode error's offset is an instruction start; find its line.
        line: placed
            .iter()
            .take_while(|p| p.offset <= e.offset)
            .last()
            .map_or(1, |p| p.line),
        message: e.kind.to_string(),
    })?;
    Ok(out)
}

fn check_label(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("bad label name `{name}`"))
    }
}

fn encode(instr: &Instr<'_>, out: &mut Vec<u8>) -> Result<(), String> {
    instr.encode_checked(out).map_err(str::to_string)
}

fn instruction(head: &Token, operands: &[Token]) -> Result<Piece, String> {
    let Token::Word(mnemonic) = head else {
        return Err("expected a mnemonic, found a string".into());
    };
    let op = Op::from_mnemonic(mnemonic).ok_or_else(|| format!("unknown mnemonic `{mnemonic}`"))?;
    let one = || match operands {
        [t] => Ok(t),
        _ => Err(format!("{op} takes one operand")),
    };
    let mut out = Vec::new();
    match op {
        Op::Skip => match one()? {
            Token::Word(w) => return Ok(Piece::Skip(w.clone())),
            Token::Str(_) => return Err("SKIP takes a label".into()),
        },
        Op::PushData => {
            let data = bytes_operand(one()?)?;
            encode(&Instr::PushData(&data), &mut out)?;
        }
        Op::PushX => {
            let data = pushx_operand(word(one()?)?)?;
            encode(&Instr::PushX(&data), &mut out)?;
        }
        Op::State => {
            let w = word(one()?)?;
            let id = StateId::from_name(w).ok_or_else(|| format!("unknown state `{w}`"))?;
            encode(&Instr::State(id), &mut out)?;
        }
        Op::Call | Op::Inspect => {
            let w = word(one()?)?;
            let budget: u32 = w.parse().map_err(|_| format!("bad budget `{w}`"))?;
            let instr = if op == Op::Call {
                Instr::Call(budget)
            } else {
                Instr::Inspect(budget)
            };
            encode(&instr, &mut out)?;
        }
        Op::Link => {
            let id = hash_operand(one()?)?;
            encode(&Instr::Link(&id), &mut out)?;
        }
        Op::Alloc => {
            let mut hashes = Vec::new();
            for t in operands {
                hashes.extend_from_slice(&hash_operand(t)?);
            }
            encode(&Instr::Alloc(&hashes), &mut out)?;
        }
        Op::Elnk => {
            let [service, data] = operands else {
                return Err("ELNK takes a service and data".into());
            };
            let service = bytes_operand(service)?;
            let data = bytes_operand(data)?;
            encode(
                &Instr::Elnk {
                    service: &service,
                    data: &data,
                },
                &mut out,
            )?;
        }
        _ => {
            if !operands.is_empty() {
                return Err(format!("{op} takes no operand"));
            }
            encode(&Instr::Plain(op), &mut out)?;
        }
    }
    Ok(Piece::Bytes(out))
}

fn word(t: &Token) -> Result<&str, String> {
    match t {
        Token::Word(w) => Ok(w),
        Token::Str(_) => Err("expected a number or name, found a string".into()),
    }
}

/// A quoted string (its UTF-8 bytes) or `0x` hex.
fn bytes_operand(t: &Token) -> Result<Vec<u8>, String> {
    match t {
        Token::Str(b) => Ok(b.clone()),
        Token::Word(w) => {
            parse_hex(w).ok_or_else(|| format!("expected \"string\" or 0xhex, found `{w}`"))
        }
    }
}

fn hash_operand(t: &Token) -> Result<[u8; 32], String> {
    let w = word(t)?;
    parse_hex(w)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| format!("expected a 32-byte 0x hash, found `{w}`"))
}

/// Decimal (minimal width) or `0x` hex: the exact two's complement bytes,
/// most significant first, which keeps a non-minimal width through a
/// disassembly round trip.
fn pushx_operand(w: &str) -> Result<Vec<u8>, String> {
    if let Some(mut be) = parse_hex(w) {
        if be.is_empty() || be.len() > MAX_INT_BYTES {
            return Err("PUSHX hex must be 1 to 32 bytes".into());
        }
        be.reverse();
        return Ok(be);
    }
    let i = Int::from_str_radix(w, 10).map_err(|_| format!("bad integer `{w}`"))?;
    Ok(int_to_pushx(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_program() {
        let b =
            assemble("state own ; owner?\n skip pay\n ok\npay: pushx 1000\n PAY\n OK\n").unwrap();
        assert_eq!(
            b,
            vec![
                Op::State as u8,
                3,
                Op::Skip as u8,
                1,
                0,
                Op::Ok as u8,
                Op::PushX as u8,
                2,
                0xe8,
                0x03,
                Op::Pay as u8,
                Op::Ok as u8
            ]
        );
    }

    #[test]
    fn pushx_forms() {
        assert_eq!(pushx_operand("0").unwrap(), vec![0]);
        assert_eq!(pushx_operand("-1").unwrap(), vec![0xff]);
        assert_eq!(pushx_operand("255").unwrap(), vec![0xff, 0]);
        assert_eq!(pushx_operand("0x0001").unwrap(), vec![1, 0]);
        assert_eq!(pushx_operand("0xff").unwrap(), vec![0xff]);
        assert!(pushx_operand("1.5").is_err());
    }

    #[test]
    fn errors_name_their_line() {
        let e = assemble("OK\n\n\n\n\n\nPUSHH 1\n").unwrap_err();
        assert_eq!(e.to_string(), "line 7: unknown mnemonic `PUSHH`");
        let e = assemble("back:\nPUSHX 1\nSKIP back\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("jumps only go forward"), "{e}");
        let e = assemble("SKIP nowhere\n").unwrap_err();
        assert!(e.message.contains("undefined label"), "{e}");
        let e = assemble("a:\na:\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = assemble("STATE mood\n").unwrap_err();
        assert!(e.message.contains("unknown state"), "{e}");
        let e = assemble("OK\nCALL 2000000\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("call budget"), "{e}");
        let e = assemble("ADD 1\n").unwrap_err();
        assert!(e.message.contains("takes no operand"), "{e}");
    }

    #[test]
    fn skip_to_the_end_and_same_line_labels() {
        let b = assemble("PUSHX 0\nSKIP end\nFAIL\nend:\n").unwrap();
        assert_eq!(
            b,
            vec![Op::PushX as u8, 1, 0, Op::Skip as u8, 1, 0, Op::Fail as u8]
        );
        let b2 = assemble("PUSHX 0\nSKIP end\nFAIL\nend: ; nothing after\n").unwrap();
        assert_eq!(b, b2);
        let b3 = assemble("x: PUSHX 0\nSKIP y\ny: OK").unwrap();
        assert_eq!(b3.get(4..6), Some(&[0u8, 0][..]));
    }

    #[test]
    fn storage_operands() {
        let h = format!("0x{}", "ab".repeat(32));
        let b = assemble(&format!(
            "ALLOC {h} {h}\nLINK {h}\nELNK \"storj\" 0x0102\nALLOC\n"
        ))
        .unwrap();
        let s = Script::decode(&b).unwrap();
        let ops: Vec<Op> = s.instructions().map(|(_, i)| i.op()).collect();
        assert_eq!(ops, vec![Op::Alloc, Op::Link, Op::Elnk, Op::Alloc]);
        assert!(assemble("LINK 0x01\n").is_err());
    }
}
