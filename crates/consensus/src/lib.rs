//! Consensus engines as pure state machines: time is an input, never read.
//!
//! Owns: who may propose a block on top of a parent and when, the consensus
//! rules a header must satisfy, and which height is irreversible. The dev
//! `solo` engine (one authority, for devnets) and [`aedpos`] (elected
//! miners in rounds of time slots, irreversibility from implied heights).
//!
//! Must not: do IO, read clocks, sign, or execute transactions. The node
//! wires clocks and keys in; the importer checks chain rules (parent, height,
//! roots, signatures).

pub mod aedpos;
mod solo;

pub use solo::Solo;
use umbra_types::{Header, Height, PublicKey};

/// When and how a proposer may build the next block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Timestamp the block must carry; the proposer waits until its clock
    /// reaches it.
    pub timestamp_ms: u64,
    /// Bytes for the header's consensus field.
    pub consensus: Vec<u8>,
}

/// Why a header breaks consensus rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConsensusError {
    #[error("block proposed by {0}, which is not an authority")]
    NotAuthority(String),
    #[error("timestamp {got} is not after the parent's {parent}")]
    TimestampNotIncreasing { parent: u64, got: u64 },
    #[error("consensus bytes must be empty for this engine, got {0} bytes")]
    UnexpectedConsensusBytes(usize),
}

/// A consensus engine.
pub trait Consensus: Send + Sync {
    fn name(&self) -> &'static str;
    /// The slot in which `proposer` may build on `parent`, or `None` if it may
    /// not propose at all. `now_ms` only decides how late a missed slot is.
    fn next_slot(&self, parent: &Header, proposer: &PublicKey, now_ms: u64) -> Option<Slot>;
    /// Consensus rules of `header` given its parent.
    fn verify_header(&self, header: &Header, parent: &Header) -> Result<(), ConsensusError>;
    /// The highest height that can never be reverted, given the head.
    fn irreversible_height(&self, head: &Header) -> Height;
}
