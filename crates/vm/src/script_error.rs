//! Why a byte string is not a valid script.

use crate::opcode::Op;

/// A decoding error at a byte offset of the script.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
#[error("at byte {offset}: {kind}")]
pub struct ScriptError {
    /// Offset of the offending instruction (0 for a whole-script error).
    pub offset: usize,
    /// What is wrong.
    pub kind: ScriptErrorKind,
}

/// What makes a script invalid.
#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptErrorKind {
    /// Longer than `MAX_SCRIPT_BYTES`.
    #[error("script is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// The script's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A byte that is no opcode.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// The script ends inside an instruction.
    #[error("script ends inside {}", .0.map_or("an instruction", |op| op.mnemonic()))]
    Truncated(Option<Op>),
    /// `PUSHX` width outside 1..=32.
    #[error("PUSHX width {0} is outside 1..=32")]
    BadPushXWidth(u8),
    /// `STATE` with an unknown id.
    #[error("unknown state id {0}")]
    UnknownState(u8),
    /// A `SKIP` landing inside an instruction.
    #[error("SKIP target {target} is not an instruction boundary")]
    SkipNotOnBoundary {
        /// The byte offset it would jump to.
        target: usize,
    },
    /// A `SKIP` landing past the script's end.
    #[error("SKIP target {target} is past the script end {len}")]
    SkipPastEnd {
        /// The byte offset it would jump to.
        target: usize,
        /// The script's length.
        len: usize,
    },
    /// `CALL`/`INSPECT` budget above `MAX_CALL_BUDGET`.
    #[error("call budget {0} is above the limit of {max}", max = crate::limits::MAX_CALL_BUDGET)]
    BudgetTooLarge(u32),
}
