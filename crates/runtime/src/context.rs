//! What a block's execution may know besides state.

use crate::params::ChainParams;
use umbra_types::{ChainId, Height, PublicKey};

/// Recent canonical block hashes, for reference-block checks.
pub trait RefBlocks: Sync {
    /// First 4 bytes of the canonical block hash at `height`, if known.
    fn hash_prefix(&self, height: Height) -> Option<[u8; 4]>;
}

/// Inputs of one block's execution.
pub struct BlockContext<'a> {
    pub chain_id: ChainId,
    pub height: Height,
    pub timestamp_ms: u64,
    pub proposer: PublicKey,
    /// The block's randomness, derived from its parent (gates read it as
    /// `STATE randomness`; predictable one block ahead, so not for secrets).
    pub randomness: [u8; 32],
    pub params: &'a ChainParams,
    pub ref_blocks: &'a dyn RefBlocks,
}
