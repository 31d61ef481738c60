//! One decoded instruction: how it is read from bytes, written back, and what
//! it costs.

use crate::limits::{MAX_CALL_BUDGET, MAX_INT_BYTES};
use crate::opcode::Op;
use crate::script_error::{ScriptError, ScriptErrorKind};
use crate::state::StateId;

/// A decoded instruction borrowing its operands from the script bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instr<'a> {
    /// Push these bytes.
    PushData(&'a [u8]),
    /// Push the integer these 1..=32 bytes encode (little-endian two's complement).
    PushX(&'a [u8]),
    /// Pop; if falsy jump forward this many bytes past the end of the `SKIP`.
    Skip(u16),
    /// Push a state.
    State(StateId),
    /// Run an older box's gate as a read with at most this much gas.
    Call(u32),
    /// Run an older box's gate as an inspection with at most this much gas.
    Inspect(u32),
    /// `n × 32` bytes of block hashes.
    Alloc(&'a [u8]),
    /// A 32-byte content id.
    Link(&'a [u8; 32]),
    /// A link into an external storage service.
    Elnk {
        /// The service's name.
        service: &'a [u8],
        /// The service's link data.
        data: &'a [u8],
    },
    /// An opcode without operands.
    Plain(Op),
}

/// Size of a `SKIP` instruction (opcode + u16), which fixes its jump origin.
pub const SKIP_LEN: usize = 3;

impl<'a> Instr<'a> {
    /// The opcode.
    pub fn op(&self) -> Op {
        match self {
            Instr::PushData(_) => Op::PushData,
            Instr::PushX(_) => Op::PushX,
            Instr::Skip(_) => Op::Skip,
            Instr::State(_) => Op::State,
            Instr::Call(_) => Op::Call,
            Instr::Inspect(_) => Op::Inspect,
            Instr::Alloc(_) => Op::Alloc,
            Instr::Link(_) => Op::Link,
            Instr::Elnk { .. } => Op::Elnk,
            Instr::Plain(op) => *op,
        }
    }

    /// Gas charged for the instruction itself; for `CALL`/`INSPECT` this
    /// includes the whole budget, which bounds what the callee may use.
    pub fn gas(&self) -> u64 {
        let base = self.op().base_gas();
        match self {
            Instr::Call(b) | Instr::Inspect(b) => base.saturating_add(u64::from(*b)),
            _ => base,
        }
    }

    /// Whether execution never continues past this instruction.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Instr::Plain(Op::Ret | Op::Ok | Op::Fail | Op::Throw))
    }

    /// Decodes the instruction at `offset`; returns it and the offset after it.
    /// Checks everything that can be checked locally (operands complete,
    /// `PUSHX` width, state id, budget); jump targets are the script's job.
    pub fn decode_at(bytes: &'a [u8], offset: usize) -> Result<(Instr<'a>, usize), ScriptError> {
        let err = |kind| ScriptError { offset, kind };
        let byte = *bytes
            .get(offset)
            .ok_or(err(ScriptErrorKind::Truncated(None)))?;
        let op = Op::from_byte(byte).ok_or(err(ScriptErrorKind::UnknownOpcode(byte)))?;
        let mut r = Reader {
            bytes,
            pos: offset.saturating_add(1),
        };
        let truncated = err(ScriptErrorKind::Truncated(Some(op)));
        let instr = match op {
            Op::PushData => {
                let len = r.u16().ok_or(truncated)?;
                Instr::PushData(r.take(usize::from(len)).ok_or(truncated)?)
            }
            Op::PushX => {
                let n = r.u8().ok_or(truncated)?;
                if n == 0 || usize::from(n) > MAX_INT_BYTES {
                    return Err(err(ScriptErrorKind::BadPushXWidth(n)));
                }
                Instr::PushX(r.take(usize::from(n)).ok_or(truncated)?)
            }
            Op::Skip => Instr::Skip(r.u16().ok_or(truncated)?),
            Op::State => {
                let id = r.u8().ok_or(truncated)?;
                Instr::State(StateId::from_byte(id).ok_or(err(ScriptErrorKind::UnknownState(id)))?)
            }
            Op::Call | Op::Inspect => {
                let budget = r.u32().ok_or(truncated)?;
                if budget > MAX_CALL_BUDGET {
                    return Err(err(ScriptErrorKind::BudgetTooLarge(budget)));
                }
                if op == Op::Call {
                    Instr::Call(budget)
                } else {
                    Instr::Inspect(budget)
                }
            }
            Op::Alloc => {
                let n = r.u16().ok_or(truncated)?;
                Instr::Alloc(r.take(usize::from(n) * 32).ok_or(truncated)?)
            }
            Op::Link => {
                let id = r.take(32).ok_or(truncated)?;
                Instr::Link(id.try_into().map_err(|_| truncated)?)
            }
            Op::Elnk => {
                let slen = r.u8().ok_or(truncated)?;
                let service = r.take(usize::from(slen)).ok_or(truncated)?;
                let dlen = r.u16().ok_or(truncated)?;
                let data = r.take(usize::from(dlen)).ok_or(truncated)?;
                Instr::Elnk { service, data }
            }
            _ => Instr::Plain(op),
        };
        Ok((instr, r.pos))
    }

    /// Appends the instruction's bytes, or says which operand does not fit its
    /// length field. It does not check script-level rules (use `Script::decode`).
    pub fn encode_checked(&self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        out.push(self.op() as u8);
        match self {
            Instr::PushData(d) => {
                let len = u16::try_from(d.len()).map_err(|_| "PUSHDATA longer than 65535 bytes")?;
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(d);
            }
            Instr::PushX(d) => {
                let n = u8::try_from(d.len())
                    .ok()
                    .filter(|n| (1..=MAX_INT_BYTES as u8).contains(n))
                    .ok_or("PUSHX needs 1 to 32 bytes")?;
                out.push(n);
                out.extend_from_slice(d);
            }
            Instr::Skip(o) => out.extend_from_slice(&o.to_le_bytes()),
            Instr::State(id) => out.push(*id as u8),
            Instr::Call(b) | Instr::Inspect(b) => out.extend_from_slice(&b.to_le_bytes()),
            Instr::Alloc(h) => {
                if h.len() % 32 != 0 {
                    return Err("ALLOC hashes must be 32 bytes each");
                }
                let n =
                    u16::try_from(h.len() / 32).map_err(|_| "ALLOC takes at most 65535 hashes")?;
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(h);
            }
            Instr::Link(id) => out.extend_from_slice(&id[..]),
            Instr::Elnk { service, data } => {
                let slen = u8::try_from(service.len())
                    .map_err(|_| "ELNK service longer than 255 bytes")?;
                let dlen =
                    u16::try_from(data.len()).map_err(|_| "ELNK data longer than 65535 bytes")?;
                out.push(slen);
                out.extend_from_slice(service);
                out.extend_from_slice(&dlen.to_le_bytes());
                out.extend_from_slice(data);
            }
            Instr::Plain(op) => {
                if op.has_operand() {
                    return Err("opcode needs an operand");
                }
            }
        }
        Ok(())
    }
}

/// Bounds-checked little-endian reads over the script bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}
