//! `ScriptBuilder`: gate bytecode from Rust, with named forward labels.

use std::collections::BTreeMap;

use umbra_vm::{Instr, Int, Op, SKIP_LEN, Script, ScriptError, StateId, int_to_pushx};

/// Why a builder could not produce a valid script.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// `.op()` was given an opcode that needs an operand.
    #[error("{0} needs an operand: use its own builder method")]
    NeedsOperand(Op),
    /// An operand does not fit its length field.
    #[error("{0}")]
    Operand(&'static str),
    /// `skip_to` names a label never defined.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    /// A label defined twice.
    #[error("label `{0}` defined twice")]
    DuplicateLabel(String),
    /// `skip_to` a label defined before it.
    #[error("label `{0}` is behind its SKIP: jumps only go forward")]
    BackwardJump(String),
    /// A jump longer than a `u16`.
    #[error("SKIP to `{0}` is more than 65535 bytes")]
    JumpTooFar(String),
    /// The result is not a valid script (too large, budget too big…).
    #[error("invalid script: {0}")]
    Invalid(#[from] ScriptError),
}

enum Item {
    Bytes(Vec<u8>),
    Skip(String),
    Label(String),
}

/// Builds gate bytecode instruction by instruction.
///
/// Errors are collected and reported by [`ScriptBuilder::build`], so a chain
/// of calls never needs `?` in the middle.
#[derive(Default)]
pub struct ScriptBuilder {
    items: Vec<Item>,
    error: Option<BuildError>,
}

impl ScriptBuilder {
    /// An empty script.
    pub fn new() -> ScriptBuilder {
        ScriptBuilder::default()
    }

    fn instr(mut self, instr: Instr<'_>) -> Self {
        let mut out = Vec::new();
        match instr.encode_checked(&mut out) {
            Ok(()) => self.items.push(Item::Bytes(out)),
            Err(e) => {
                self.error.get_or_insert(BuildError::Operand(e));
            }
        }
        self
    }

    /// `PUSHX` with the shortest encoding of `i`.
    pub fn push_int(self, i: i128) -> Self {
        self.push_big(Int::from(i))
    }

    /// `PUSHX` with the shortest encoding of `i` (prices and amounts).
    pub fn push_u128(self, i: u128) -> Self {
        self.push_big(Int::from(i))
    }

    /// `PUSHX` with the shortest encoding of a 256-bit `i`.
    pub fn push_big(self, i: Int) -> Self {
        let bytes = int_to_pushx(i);
        self.instr(Instr::PushX(&bytes))
    }

    /// `PUSHDATA` of raw bytes.
    pub fn push_bytes(self, data: &[u8]) -> Self {
        self.instr(Instr::PushData(data))
    }

    /// `PUSHDATA` of a string's UTF-8 bytes.
    pub fn push_str(self, s: &str) -> Self {
        self.push_bytes(s.as_bytes())
    }

    /// An instruction without operands (`ADD`, `PAY`, `OK`…).
    pub fn op(mut self, op: Op) -> Self {
        if op.has_operand() {
            self.error.get_or_insert(BuildError::NeedsOperand(op));
            return self;
        }
        self.instr(Instr::Plain(op))
    }

    /// `STATE id`.
    pub fn state(self, id: StateId) -> Self {
        self.instr(Instr::State(id))
    }

    /// `SKIP` to a label defined later: taken when the popped item is falsy.
    pub fn skip_to(mut self, label: &str) -> Self {
        self.items.push(Item::Skip(label.to_string()));
        self
    }

    /// Defines a label at the current position.
    pub fn label(mut self, label: &str) -> Self {
        self.items.push(Item::Label(label.to_string()));
        self
    }

    /// `CALL budget`: pop a box name, run its read gate, push 1/0.
    pub fn call(self, budget: u32) -> Self {
        self.instr(Instr::Call(budget))
    }

    /// `INSPECT budget`: pop a box name, push what its read gate would charge
    /// (-1 if it would fail).
    pub fn inspect(self, budget: u32) -> Self {
        self.instr(Instr::Inspect(budget))
    }

    /// `LINK id`.
    pub fn link(self, id: &[u8; 32]) -> Self {
        self.instr(Instr::Link(id))
    }

    /// `ALLOC` with these block hashes.
    pub fn alloc(self, hashes: &[[u8; 32]]) -> Self {
        let flat = hashes.concat();
        self.instr(Instr::Alloc(&flat))
    }

    /// `ELNK service data`.
    pub fn elnk(self, service: &[u8], data: &[u8]) -> Self {
        self.instr(Instr::Elnk { service, data })
    }

    /// Resolves labels and returns bytecode that `Script::decode` accepts.
    pub fn build(self) -> Result<Vec<u8>, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut labels = BTreeMap::new();
        let mut offset = 0usize;
        for item in &self.items {
            match item {
                Item::Bytes(b) => offset = offset.saturating_add(b.len()),
                Item::Skip(_) => offset = offset.saturating_add(SKIP_LEN),
                Item::Label(l) => {
                    if labels.insert(l.clone(), offset).is_some() {
                        return Err(BuildError::DuplicateLabel(l.clone()));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(offset);
        for item in &self.items {
            match item {
                Item::Bytes(b) => out.extend_from_slice(b),
                Item::Label(_) => {}
                Item::Skip(l) => {
                    let target = *labels
                        .get(l)
                        .ok_or_else(|| BuildError::UndefinedLabel(l.clone()))?;
                    let from = out.len().saturating_add(SKIP_LEN);
                    let delta = target
                        .checked_sub(from)
                        .ok_or_else(|| BuildError::BackwardJump(l.clone()))?;
                    let delta =
                        u16::try_from(delta).map_err(|_| BuildError::JumpTooFar(l.clone()))?;
                    Instr::Skip(delta)
                        .encode_checked(&mut out)
                        .map_err(BuildError::Operand)?;
                }
            }
        }
        Script::decode(&out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_vm::assemble;

    #[test]
    fn matches_the_assembler() {
        let built = ScriptBuilder::new()
            .state(StateId::Own)
            .skip_to("pay")
            .op(Op::Ok)
            .label("pay")
            .push_int(-1000)
            .push_str("box")
            .push_bytes(&[0, 1])
            .call(50)
            .inspect(60)
            .op(Op::Pay)
            .op(Op::Ok)
            .label("end")
            .build()
            .unwrap();
        let text = "STATE own\nSKIP pay\nOK\npay: PUSHX -1000\nPUSHDATA \"box\"\nPUSHDATA 0x0001\nCALL 50\nINSPECT 60\nPAY\nOK\nend:";
        assert_eq!(built, assemble(text).unwrap());
    }

    #[test]
    fn errors() {
        let e = ScriptBuilder::new().op(Op::PushX).build().unwrap_err();
        assert_eq!(e, BuildError::NeedsOperand(Op::PushX));
        let e = ScriptBuilder::new().skip_to("x").build().unwrap_err();
        assert_eq!(e, BuildError::UndefinedLabel("x".into()));
        let e = ScriptBuilder::new()
            .label("x")
            .push_int(1)
            .skip_to("x")
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::BackwardJump("x".into()));
        let e = ScriptBuilder::new()
            .label("x")
            .label("x")
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::DuplicateLabel("x".into()));
        let e = ScriptBuilder::new()
            .push_bytes(&vec![0; 70_000])
            .build()
            .unwrap_err();
        assert!(matches!(e, BuildError::Operand(_)), "{e}");
        let e = ScriptBuilder::new().call(2_000_000).build().unwrap_err();
        assert!(matches!(e, BuildError::Invalid(_)), "{e}");
        let e = ScriptBuilder::new()
            .push_int(0)
            .skip_to("far")
            .push_bytes(&vec![0; 30_000])
            .push_bytes(&vec![0; 30_000])
            .push_bytes(&vec![0; 30_000])
            .label("far")
            .build()
            .unwrap_err();
        assert_eq!(e, BuildError::JumpTooFar("far".into()));
    }

    #[test]
    fn u128_prices_fit() {
        let b = ScriptBuilder::new().push_u128(u128::MAX).build().unwrap();
        assert_eq!(b.len(), 2 + 17, "u128::MAX needs a 17th byte for the sign");
    }
}
