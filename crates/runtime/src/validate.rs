//! Checks that do not depend on account state.

use crate::context::RefBlocks;
use crate::error::TxInvalid;
use crate::params::ChainParams;
use umbra_types::{ChainId, Height, Transaction};

/// Size and chain id. The signature is checked by the caller (in batches,
/// before execution) because it is the expensive part.
pub fn check_stateless(
    tx: &Transaction,
    chain_id: ChainId,
    params: &ChainParams,
) -> Result<(), TxInvalid> {
    let size = tx.encoded_len() as u64;
    if size > params.max_tx_bytes {
        return Err(TxInvalid::TooLarge {
            size,
            limit: params.max_tx_bytes,
        });
    }
    if tx.chain_id != chain_id {
        return Err(TxInvalid::WrongChainId {
            expected: chain_id,
            got: tx.chain_id,
        });
    }
    if !matches!(tx.payload, umbra_types::Payload::Transfer { .. }) {
        crate::boxes::check_call(&tx.payload, params).map_err(TxInvalid::InvalidCall)?;
        crate::storage::check_call(&tx.payload, params).map_err(TxInvalid::InvalidCall)?;
    }
    Ok(())
}

/// A transaction executed in the block at `height` must name a block below
/// it, on this chain, at most `ref_block_window` blocks back.
pub fn check_ref_block(
    tx: &Transaction,
    height: Height,
    params: &ChainParams,
    refs: &dyn RefBlocks,
) -> Result<(), TxInvalid> {
    let r = tx.ref_block;
    if r.height >= height {
        return Err(TxInvalid::UnknownRefBlock { height: r.height });
    }
    if height - r.height > params.ref_block_window {
        return Err(TxInvalid::RefBlockExpired {
            height: r.height,
            window: params.ref_block_window,
            current: height,
        });
    }
    match refs.hash_prefix(r.height) {
        Some(p) if p == r.hash_prefix => Ok(()),
        _ => Err(TxInvalid::UnknownRefBlock { height: r.height }),
    }
}
