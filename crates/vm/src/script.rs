//! A validated script and its static gas bound.

use crate::instr::Instr;
use crate::limits::MAX_SCRIPT_BYTES;
use crate::script_error::{ScriptError, ScriptErrorKind};

/// Bytecode that passed every static check, with its worst-path gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    bytes: Vec<u8>,
    gas_bound: u64,
}

/// What the bound pass needs to know about one instruction.
struct Node {
    offset: usize,
    next: usize,
    gas: u64,
    terminal: bool,
    skip_target: Option<usize>,
}

impl Script {
    /// Validates `bytes` and computes the gas bound.
    ///
    /// Checks, in order: size, then per instruction opcode, operands, `PUSHX`
    /// width, state id and call budget, then that every `SKIP` lands forward on
    /// an instruction boundary or exactly at the end.
    pub fn decode(bytes: &[u8]) -> Result<Script, ScriptError> {
        if bytes.len() > MAX_SCRIPT_BYTES {
            return Err(ScriptError {
                offset: 0,
                kind: ScriptErrorKind::TooLarge {
                    len: bytes.len(),
                    max: MAX_SCRIPT_BYTES,
                },
            });
        }
        let len = bytes.len();
        let mut nodes = Vec::new();
        let mut boundary = vec![false; len + 1];
        let mut offset = 0;
        while offset < len {
            let (instr, next) = Instr::decode_at(bytes, offset)?;
            if let Some(b) = boundary.get_mut(offset) {
                *b = true;
            }
            let skip_target = match instr {
                // Forward by construction: the offset is unsigned and counted
                // from the end of the SKIP.
                Instr::Skip(o) => Some(next.saturating_add(usize::from(o))),
                _ => None,
            };
            nodes.push(Node {
                offset,
                next,
                gas: instr.gas(),
                terminal: instr.is_terminal(),
                skip_target,
            });
            offset = next;
        }
        if let Some(b) = boundary.get_mut(len) {
            *b = true;
        }
        for n in &nodes {
            if let Some(target) = n.skip_target {
                let kind = if target > len {
                    ScriptErrorKind::SkipPastEnd { target, len }
                } else if !boundary.get(target).copied().unwrap_or(false) {
                    ScriptErrorKind::SkipNotOnBoundary { target }
                } else {
                    continue;
                };
                return Err(ScriptError {
                    offset: n.offset,
                    kind,
                });
            }
        }
        let gas_bound = worst_path(&nodes, len);
        Ok(Script {
            bytes: bytes.to_vec(),
            gas_bound,
        })
    }

    /// The most gas any run of this script can use, `CALL`/`INSPECT` budgets
    /// included.
    pub fn gas_bound(&self) -> u64 {
        self.gas_bound
    }

    /// The script's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The instructions with their byte offsets, in order.
    pub fn instructions(&self) -> Instructions<'_> {
        Instructions {
            bytes: &self.bytes,
            offset: 0,
        }
    }

    /// The instruction at `offset` and the offset after it; `None` at the end.
    pub(crate) fn instr_at(
        &self,
        offset: usize,
    ) -> Option<Result<(Instr<'_>, usize), ScriptError>> {
        (offset < self.bytes.len()).then(|| Instr::decode_at(&self.bytes, offset))
    }
}

/// Worst-path gas, computed backwards in one pass: because every jump goes
/// forward, each successor's bound is known before its predecessors'.
///
/// `bound[i] = gas(i) + max(bound[next], bound[skip target])`, terminal
/// instructions have no successor and the script end costs 0.
fn worst_path(nodes: &[Node], len: usize) -> u64 {
    let mut bound = vec![0u64; len + 1];
    let at = |bound: &[u64], i: usize| bound.get(i).copied().unwrap_or(0);
    for n in nodes.iter().rev() {
        let succ = if n.terminal {
            0
        } else {
            let fall = at(&bound, n.next);
            n.skip_target.map_or(fall, |t| fall.max(at(&bound, t)))
        };
        if let Some(b) = bound.get_mut(n.offset) {
            *b = n.gas.saturating_add(succ);
        }
    }
    at(&bound, 0)
}

/// Iterator over a validated script's instructions.
pub struct Instructions<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Instructions<'a> {
    type Item = (usize, Instr<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        // The script was validated, so decoding cannot fail; stopping is the
        // safe answer if it ever did.
        let (instr, next) = Instr::decode_at(self.bytes, self.offset).ok()?;
        let at = self.offset;
        self.offset = next;
        Some((at, instr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::Op;

    #[test]
    fn empty_script_is_valid_with_zero_bound() {
        let s = Script::decode(&[]).unwrap();
        assert_eq!(s.gas_bound(), 0);
        assert_eq!(s.instructions().count(), 0);
    }

    #[test]
    fn too_large_is_refused_first() {
        let mut big = vec![Op::Ok as u8; MAX_SCRIPT_BYTES];
        assert!(Script::decode(&big).is_ok());
        big.push(0);
        let e = Script::decode(&big).unwrap_err();
        assert!(matches!(e.kind, ScriptErrorKind::TooLarge { .. }), "{e}");
    }

    #[test]
    fn bound_takes_the_worst_branch() {
        // PUSHX 1; SKIP +5 (over two CALL-free instrs) ; SHA256; SHA256; ... end
        let mut b = vec![Op::PushX as u8, 1, 1, Op::Skip as u8, 2, 0];
        b.push(Op::Sha256 as u8); // 30
        b.push(Op::Ok as u8); // 1
        b.push(Op::Add as u8); // 2
        let s = Script::decode(&b).unwrap();
        // PUSHX 1 + SKIP 1 + max(SHA 30 + OK 1, ADD 2)
        assert_eq!(s.gas_bound(), 1 + 1 + 31);
    }

    #[test]
    fn bound_includes_call_budget() {
        let mut b = vec![Op::PushData as u8, 1, 0, b'a', Op::Call as u8];
        b.extend_from_slice(&500u32.to_le_bytes());
        let s = Script::decode(&b).unwrap();
        assert_eq!(s.gas_bound(), 1 + 20 + 500);
    }

    #[test]
    fn skip_targets_are_checked() {
        // SKIP +1 lands inside PUSHX's operand.
        let b = [Op::Skip as u8, 1, 0, Op::PushX as u8, 1, 7];
        let e = Script::decode(&b).unwrap_err();
        assert_eq!(e.offset, 0);
        assert_eq!(e.kind, ScriptErrorKind::SkipNotOnBoundary { target: 4 });
        // Exactly the end is fine; one past is not.
        assert!(Script::decode(&[Op::Skip as u8, 3, 0, Op::PushX as u8, 1, 7]).is_ok());
        let e = Script::decode(&[Op::Skip as u8, 4, 0, Op::PushX as u8, 1, 7]).unwrap_err();
        assert!(matches!(e.kind, ScriptErrorKind::SkipPastEnd { .. }));
        // Offset 0 is a no-op jump.
        assert!(Script::decode(&[Op::Skip as u8, 0, 0]).is_ok());
    }

    #[test]
    fn operand_errors_carry_offsets() {
        let e = Script::decode(&[Op::Ok as u8, Op::PushX as u8, 0]).unwrap_err();
        assert_eq!((e.offset, e.kind), (1, ScriptErrorKind::BadPushXWidth(0)));
        let e = Script::decode(&[Op::Ok as u8, Op::PushX as u8, 33]).unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::BadPushXWidth(33));
        let e = Script::decode(&[Op::Ok as u8, Op::State as u8, 11]).unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::UnknownState(11));
        let e = Script::decode(&[Op::Ok as u8, 0xee]).unwrap_err();
        assert_eq!(
            (e.offset, e.kind),
            (1, ScriptErrorKind::UnknownOpcode(0xee))
        );
        let e = Script::decode(&[Op::PushData as u8, 5, 0, 1]).unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::Truncated(Some(Op::PushData)));
        let mut c = vec![Op::Call as u8];
        c.extend_from_slice(&1_000_001u32.to_le_bytes());
        let e = Script::decode(&c).unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::BudgetTooLarge(1_000_001));
        assert!(
            e.to_string().starts_with("at byte 0: call budget 1000001"),
            "{e}"
        );
    }
}
