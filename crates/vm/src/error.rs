//! Why a run stopped with an error instead of a verdict.

use crate::host::HostError;
use crate::opcode::Op;
use crate::script_error::ScriptError;

/// A run error: where it happened and what it was.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub struct VmError {
    /// Byte offset of the failing instruction in the innermost frame's script.
    pub offset: usize,
    /// Call depth of that frame (0 = the entry box's gate).
    pub depth: usize,
    /// What went wrong.
    pub kind: VmErrorKind,
}

impl std::fmt::Display for VmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.depth == 0 {
            write!(f, "at byte {}: {}", self.offset, self.kind)
        } else {
            write!(
                f,
                "at byte {} (call depth {}): {}",
                self.offset, self.depth, self.kind
            )
        }
    }
}

/// Every way a run can fail.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum VmErrorKind {
    /// An instruction needed more items than the stack holds.
    #[error("stack underflow in {0}")]
    StackUnderflow(Op),
    /// A push past `MAX_STACK` items.
    #[error("stack overflow: more than {max} items", max = crate::limits::MAX_STACK)]
    StackOverflow,
    /// An item longer than `MAX_ITEM_BYTES`.
    #[error("item of {size} bytes is larger than {max}", max = crate::limits::MAX_ITEM_BYTES)]
    ItemTooLarge {
        /// The item's size.
        size: usize,
    },
    /// A frame's stack holding more than `MAX_STACK_BYTES` in total.
    #[error("stack holds more than {max} bytes", max = crate::limits::MAX_STACK_BYTES)]
    MemoryLimit,
    /// Bytes longer than 32 used as an integer.
    #[error("item is not an integer (longer than 32 bytes)")]
    NotAnInteger,
    /// A 256-bit signed overflow.
    #[error("integer overflow")]
    Overflow,
    /// `DIV` or `MOD` by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// An operand outside what the instruction accepts.
    #[error("{0} operand out of range")]
    OutOfRange(Op),
    /// The script executed `THROW`.
    #[error("script threw: {0}")]
    Thrown(String),
    /// Metering went past the limit (unreachable while the static bound holds).
    #[error("gas exhausted")]
    GasExhausted,
    /// The script's static bound is above the gas limit, so it was not started.
    #[error("gas bound {bound} exceeds the limit {limit}")]
    BoundExceedsLimit {
        /// The script's static bound.
        bound: u64,
        /// The limit given to `run`.
        limit: u64,
    },
    /// A `CALL`/`INSPECT` deeper than `MAX_CALL_DEPTH`.
    #[error("call depth above {max}", max = crate::limits::MAX_CALL_DEPTH)]
    CallDepth,
    /// A `CALL`/`INSPECT` into a box that is not older than the current one.
    #[error("box {callee} is not older than the current box {this}")]
    CallNotOlder {
        /// The target box's id.
        callee: u64,
        /// The current box's id.
        this: u64,
    },
    /// The named box does not exist.
    #[error("no such box")]
    NoSuchBox,
    /// The callee's static bound is above the budget the caller gave it.
    #[error("callee gas bound {bound} exceeds its budget {budget}")]
    CalleeBound {
        /// The callee's static bound.
        bound: u64,
        /// The caller's budget operand.
        budget: u32,
    },
    /// The callee's code is not a valid script.
    #[error("callee script invalid: {0}")]
    BadScript(ScriptError),
    /// The host refused or failed.
    #[error("host: {0}")]
    Host(#[from] HostError),
}
