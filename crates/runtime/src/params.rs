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
    /// Fee for creating a box (on top of the base and size fees).
    pub fee_box_create: Amount,
    /// Fee for every other box call.
    pub fee_box_op: Amount,
    /// Fee per unit of a gate's static gas bound; the bound is charged in
    /// full, so a gate's cost is known before it runs.
    pub fee_per_gas: Amount,
    /// Largest gas bound a gate script may have.
    pub max_gate_gas: u64,
    /// Largest message body stored on chain.
    pub max_message_bytes: u64,
    /// Fee for an election call (announce, quit, vote, withdraw, report).
    pub fee_election_op: Amount,
    /// Tokens a candidate locks while standing for miner.
    pub candidate_deposit: Amount,
    /// Shortest lock of a vote.
    pub min_vote_lock_ms: u64,
    /// Most keys that may ever announce candidacy (the table is read whole).
    pub max_candidates: u64,
    /// Most votes one account may cast.
    pub max_votes_per_account: u64,
    /// Miners elected per term.
    pub miners: u64,
    /// Largest clock drift allowed for a block timestamp ahead of the
    /// importer's clock.
    pub max_future_drift_ms: u64,
    /// Fee for a storage call (alloc, renew, collect, register,
    /// unregister, grant), on top of the base and size fees.
    pub fee_storage_op: Amount,
    /// Price of keeping one 256 KiB block, one replica, for one hour, at
    /// priority 1 in read-only mode (see `storage::storage_price`).
    pub storage_price_per_block_hour: Amount,
    /// Most replicas an allocation may ask for.
    pub max_replicas: u8,
    /// Shortest period an allocation or renewal may buy.
    pub min_storage_period_ms: u64,
    /// Longest period an allocation may buy, and the most time an
    /// allocation may have left after a renewal.
    pub max_storage_period_ms: u64,
    /// Most contents one account may own, and most contents one account
    /// may hold grants for (each list is one record).
    pub max_contents_per_account: u64,
    /// Most readers one content may grant its key to.
    pub max_grants_per_content: u64,
    /// Tokens a storage node operator locks while registered.
    pub storage_node_deposit: Amount,
    /// Most storage nodes registered at once (the table is read whole).
    pub max_storage_nodes: u64,
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            ref_block_window: 64,
            fee_base: 10_000,
            fee_per_byte: 100,
            fee_transfer: 10_000,
            // Room for a gate script of the VM's 32 KiB limit.
            max_tx_bytes: 40 * 1024,
            max_block_txs: 20_000,
            max_block_bytes: 8 * 1024 * 1024,
            max_future_drift_ms: 2_000,
            fee_box_create: 1_000_000,
            fee_box_op: 10_000,
            fee_per_gas: 10,
            max_gate_gas: 2_000_000,
            max_message_bytes: 8 * 1024,
            fee_election_op: 10_000,
            // 10,000 UMB (9 decimals).
            candidate_deposit: 10_000 * 1_000_000_000,
            min_vote_lock_ms: 60_000,
            max_candidates: 256,
            max_votes_per_account: 1024,
            miners: 5,
            fee_storage_op: 10_000,
            // 0.000001 UMB per block-hour: 1 GiB (4,096 blocks) × 3
            // replicas × 30 days (720 h) at priority 1, read-only, costs
            // 4,096 × 3 × 720 × 1,000 = 8,847,360,000 base units ≈ 8.85 UMB.
            storage_price_per_block_hour: 1_000,
            max_replicas: 8,
            min_storage_period_ms: 3_600_000,
            // Ten years of 365 days.
            max_storage_period_ms: 10 * 365 * 24 * 3_600_000,
            max_contents_per_account: 4096,
            max_grants_per_content: 1024,
            // 1,000 UMB.
            storage_node_deposit: 1_000 * 1_000_000_000,
            max_storage_nodes: 1024,
        }
    }
}
