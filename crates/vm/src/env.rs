//! What a run is given (the block and the acting account) and what it returns.

/// Why the gate is being run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Someone writes a message into the box.
    Write,
    /// Someone reads the box (also every `CALL`ed gate).
    Read,
    /// Someone asks what a read would cost, with no payment and no mutation.
    Inspect,
}

/// The run's inputs from the block and the transaction: the only sources of
/// time and randomness a gate has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The acting account's address.
    pub caller: [u8; 32],
    /// The entry frame's verb.
    pub verb: Verb,
    /// Block time in milliseconds.
    pub timestamp_ms: u64,
    /// The block's consensus randomness.
    pub randomness: [u8; 32],
    /// The payload being written (empty if none).
    pub message: Vec<u8>,
}

/// Whether the gate lets the caller through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Access granted.
    Pass,
    /// Access denied.
    Fail,
}

/// The result of a run that ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// Gas actually metered (never above the script's static bound).
    pub gas_used: u64,
    /// Sum of every `PAY` on the way, `CALL`ed gates included; in an inspect
    /// run, what the gate would charge.
    pub token_cost: u128,
}
