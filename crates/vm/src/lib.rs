//! The gate VM: the small stack machine that decides who may write, read or
//! inspect a box and what they pay.
//!
//! This crate owns the bytecode ([`Op`], [`Instr`], [`Script`]), the static gas
//! bound, the interpreter ([`run`]), and the `.gate` text format
//! ([`assemble`], [`disassemble`]). The VM is not Turing-complete: jumps only
//! go forward and `CALL`/`INSPECT` only enter older boxes, so
//! [`Script::gas_bound`] is known before a run starts and a run is refused if
//! that bound exceeds its limit.
//!
//! It must not reach chain state except through the [`Host`] trait, and must
//! stay deterministic: no floats, no clocks, no randomness, no
//! iteration-order-dependent results; time and randomness come from [`Env`].
//! Nothing derived from bytecode, stack values or host answers may panic.
//!
//! The full reference is `docs/GATE_VM.md`.

mod asm;
mod asm_lex;
mod disasm;
mod env;
mod error;
mod host;
mod instr;
mod interp;
pub mod limits;
#[cfg(any(test, feature = "testing"))]
mod mem_host;
mod opcode;
mod script;
mod script_error;
mod stack;
mod state;
mod value;

pub use asm::{AsmError, assemble};
pub use disasm::disassemble;
pub use env::{Env, Outcome, Verb, Verdict};
pub use error::{VmError, VmErrorKind};
pub use host::{BoxInfo, Host, HostError, NullHost, StorageOp};
pub use instr::{Instr, SKIP_LEN};
pub use interp::run;
pub use limits::*;
#[cfg(any(test, feature = "testing"))]
pub use mem_host::{MemBox, MemHost, Paid, mem_address};
pub use opcode::{HOST_GAS, Op};
pub use script::{Instructions, Script};
pub use script_error::{ScriptError, ScriptErrorKind};
pub use state::StateId;
pub use value::{Int, Value, int_from_le, int_to_canonical, int_to_pushx, int_to_u128};
