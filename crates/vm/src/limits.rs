//! The hard limits of the gate VM. They are part of consensus: changing one
//! changes which scripts are valid and which runs succeed.

/// Largest script `Script::decode` accepts, checked before anything else.
pub const MAX_SCRIPT_BYTES: usize = 32 * 1024;

/// Most items one frame's stack may hold.
pub const MAX_STACK: usize = 1024;

/// Largest single stack item, in bytes.
pub const MAX_ITEM_BYTES: usize = 64 * 1024;

/// Most bytes one frame's stack may hold in total (an `Int` counts as 32).
///
/// Not in the seed: without it, a handful of cheap `CAT`s and `DUP`s could hold
/// `MAX_STACK × MAX_ITEM_BYTES` = 64 MiB per frame for a few thousand gas.
pub const MAX_STACK_BYTES: usize = 1024 * 1024;

/// Deepest nesting of `CALL`/`INSPECT` frames; the entry frame is depth 0.
pub const MAX_CALL_DEPTH: usize = 8;

/// Largest gas budget operand a `CALL` or `INSPECT` may carry.
pub const MAX_CALL_BUDGET: u32 = 1_000_000;

/// Widest `PUSHX` integer, in bytes (an `Int` is 256 bits).
pub const MAX_INT_BYTES: usize = 32;
