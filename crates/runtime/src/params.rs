//! Chain parameters fixed in the chain spec.

use serde::{Deserialize, Serialize};
use umbra_types::Amount;

/// Parameters every node of a chain must agree on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainParams {
    /// A transaction is valid for this many blocks after its reference block
    /// (the aelf seed's rule is 64).
    pub ref_block_window: u64,
    /// Fee every transaction pays, in base units.
    pub fee_base: Amount,
    /// Fee per byte of the encoded transaction.
    pub fee_per_byte: Amount,
    /// Extra fee for the transfer operation.
    pub fee_transfer: Amount,
    /// Largest encoded transaction accepted.
    pub max_tx_bytes: u64,
    /// Most transactions in one block.
    pub max_block_txs: u64,
    /// Largest total size of a block's transactions.
    pub max_block_bytes: u64,
    /// Largest clock drift allowed for a block timestamp ahead of the
    /// importer's clock.
    pub max_future_drift_ms: u64,
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            ref_block_window: 64,
            fee_base: 10_000,
            fee_per_byte: 100,
            fee_transfer: 10_000,
            max_tx_bytes: 16 * 1024,
            max_block_txs: 20_000,
            max_block_bytes: 8 * 1024 * 1024,
            max_future_drift_ms: 2_000,
        }
    }
}
