//! The fee policy (written up in `docs/FEES.md`).
//!
//! fee = fee_base + fee_per_byte × encoded size + per-operation fee.
//! The sender's `max_fee` must cover it; only the computed fee is charged.
//! Fees go to the reward pool account, credited once at the end of the block
//! as one commutative delta so fees never make transactions conflict.

use crate::params::ChainParams;
use umbra_types::{Address, Amount, Payload, Transaction};

/// Label of the reward pool's system address.
pub const REWARD_POOL: &str = "reward-pool";

/// The address that collects fees (a hash, computed once).
pub fn reward_pool() -> Address {
    static POOL: std::sync::OnceLock<Address> = std::sync::OnceLock::new();
    *POOL.get_or_init(|| Address::system(REWARD_POOL))
}

/// Label of the storage pool's system address.
pub const STORAGE_POOL: &str = "storage-pool";

/// The address that collects storage payments (allocations and renewals),
/// held for the storage nodes that keep content. Credited at the end of the
/// block like the reward pool; no key can spend from it.
pub fn storage_pool() -> Address {
    static POOL: std::sync::OnceLock<Address> = std::sync::OnceLock::new();
    *POOL.get_or_init(|| Address::system(STORAGE_POOL))
}

/// The part of the fee that depends on `tx` alone; calls that run a gate add
/// the gate's gas bound times `fee_per_gas` (see `boxes::gas_fee`).
/// Saturates rather than wraps, so an absurd parameter makes transactions
/// unaffordable instead of free.
pub fn required_fee(params: &ChainParams, tx: &Transaction) -> Amount {
    let op = match tx.payload {
        Payload::Transfer { .. } => params.fee_transfer,
        Payload::BoxCreate { .. } => params.fee_box_create,
        Payload::BoxSetGate { .. }
        | Payload::BoxPush { .. }
        | Payload::BoxPull { .. }
        | Payload::BoxDelete { .. }
        | Payload::BoxReplace { .. }
        | Payload::BoxAllow { .. }
        | Payload::SetEncryptionKey { .. } => params.fee_box_op,
        Payload::ElectionAnnounce
        | Payload::ElectionQuit
        | Payload::ElectionVote { .. }
        | Payload::ElectionWithdraw { .. }
        | Payload::ElectionReport { .. } => params.fee_election_op,
        Payload::StorageAlloc { .. }
        | Payload::StorageRenew { .. }
        | Payload::StorageCollect { .. }
        | Payload::StorageRegister { .. }
        | Payload::StorageUnregister
        | Payload::StorageGrant { .. } => params.fee_storage_op,
    };
    params
        .fee_base
        .saturating_add(
            params
                .fee_per_byte
                .saturating_mul(tx.encoded_len() as Amount),
        )
        .saturating_add(op)
}
