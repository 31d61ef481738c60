//! The content storage market (PDFS on chain): accounts buy room for
//! content on the storage nodes, storage nodes register, and owners of
//! private content grant readers its key.
//!
//! - **Allocations.** `StorageAlloc` pays [`storage_price`] up front, from
//!   the sender to the [storage pool](crate::fees::storage_pool) (credited
//!   at the end of the block, not burned), for `period_ms` of block time.
//!   Content is live while the block time is below `expires_ms`. A live
//!   allocation cannot be allocated again (the owner renews it); an expired
//!   one may be allocated by anyone, which first collects it.
//! - **Renewals.** `StorageRenew` is open to anyone (paying for someone's
//!   content harms nobody): it charges the same formula for the extension
//!   and extends from `max(now, expires_ms)`; no allocation may have more
//!   than `max_storage_period_ms` left after a renewal.
//! - **Collection.** Once expired, anyone may `StorageCollect` an
//!   allocation: it, its owner's index entry and its grants (with the
//!   readers' index entries) are removed. Nothing is refunded.
//! - **Grants.** The owner of private content stores the content key
//!   wrapped to a reader (`StorageGrant`); public content needs no key.
//! - **Storage nodes.** `StorageRegister` locks `storage_node_deposit` and
//!   publishes a libp2p peer id and multiaddrs; registering again updates
//!   them; `StorageUnregister` returns the deposit.
//!
//! The gate VM's `LINK` and box messages with a `Link` body only accept
//! live allocations ([`check_link`], [`live_allocation`]).
//!
//! Must not: move content or judge storage proofs; that is the node's
//! storage role and `umbra-pdfs`, which read [`allocation`] and
//! [`storage_nodes`].

pub mod keys;
pub mod ops;

#[cfg(test)]
mod tests;

use crate::boxes::ops::CallResult;
use crate::boxes::state::load;
use crate::error::{ExecError, fail_codes};
use crate::overlay::Overlay;
use crate::params::ChainParams;
use crate::token::CallFailure;
use umbra_storage::StateView;
use umbra_types::storage::{
    MAX_NODE_ADDR_BYTES, MAX_NODE_ADDRS, MAX_PEER_ID_BYTES, MAX_PRIORITY, MAX_WRAPPED_KEY_BYTES,
};
use umbra_types::{
    Address, Allocation, Amount, Grant, Hash, MAX_CONTENT_BLOCKS, Payload, Priority, StorageMode,
    StorageNode, content_blocks,
};

/// Milliseconds in one hour, the unit storage is priced in.
pub const HOUR_MS: u64 = 3_600_000;

/// What a storage call sees of its block.
#[derive(Clone, Copy)]
pub struct StorageEnv<'a> {
    pub timestamp_ms: u64,
    pub params: &'a ChainParams,
}

/// What `period_ms` of storage costs:
///
/// `⌈price_per_block_hour × blocks × replicas × ⌈period_ms / 1 h⌉ × mode × priority / 2⌉`
///
/// with mode 1 for read-only and 2 for writable, and priority factor
/// 1, 2, 4, 8 for priorities 0 to 3, so priority 1 read-only is the base
/// price. Integer arithmetic only; `None` if it overflows or the priority
/// is over [`MAX_PRIORITY`].
pub fn storage_price(
    params: &ChainParams,
    blocks: u64,
    replicas: u8,
    priority: Priority,
    mode: StorageMode,
    period_ms: u64,
) -> Option<Amount> {
    let priority_factor: Amount = *[1, 2, 4, 8].get(usize::from(priority))?;
    let mode_factor: Amount = match mode {
        StorageMode::ReadOnly => 1,
        StorageMode::Writable => 2,
    };
    let hours = Amount::from(period_ms.div_ceil(HOUR_MS));
    let twice = params
        .storage_price_per_block_hour
        .checked_mul(Amount::from(blocks))?
        .checked_mul(Amount::from(replicas))?
        .checked_mul(hours)?
        .checked_mul(mode_factor)?
        .checked_mul(priority_factor)?;
    Some(twice.div_ceil(2))
}

fn check_period(params: &ChainParams, period_ms: u64) -> Result<(), String> {
    if period_ms < params.min_storage_period_ms || period_ms > params.max_storage_period_ms {
        return Err(format!(
            "a storage period is {} to {} ms, not {period_ms}",
            params.min_storage_period_ms, params.max_storage_period_ms
        ));
    }
    Ok(())
}

/// Checks of a storage call that need no state, done before a transaction
/// is admitted (and again when it runs): a malformed call never reaches a
/// block.
pub fn check_call(payload: &Payload, params: &ChainParams) -> Result<(), String> {
    match payload {
        Payload::StorageAlloc {
            content_id,
            size,
            blocks,
            replicas,
            priority,
            mode,
            period_ms,
            ..
        } => {
            if *content_id == Hash::ZERO {
                return Err("the content id must not be zero".into());
            }
            let want = content_blocks(*size);
            if *blocks != want {
                return Err(format!(
                    "{size} bytes are {want} blocks of {} bytes, not {blocks}",
                    umbra_types::STORAGE_BLOCK_SIZE
                ));
            }
            if *blocks > MAX_CONTENT_BLOCKS {
                return Err(format!(
                    "content has at most {MAX_CONTENT_BLOCKS} blocks, this has {blocks}"
                ));
            }
            if *replicas == 0 || *replicas > params.max_replicas {
                return Err(format!(
                    "replicas are 1 to {}, not {replicas}",
                    params.max_replicas
                ));
            }
            if *priority > MAX_PRIORITY {
                return Err(format!("priority is 0 to {MAX_PRIORITY}, not {priority}"));
            }
            check_period(params, *period_ms)?;
            if storage_price(params, *blocks, *replicas, *priority, *mode, *period_ms).is_none() {
                return Err("the price of this allocation overflows".into());
            }
            Ok(())
        }
        Payload::StorageRenew { period_ms, .. } => check_period(params, *period_ms),
        Payload::StorageRegister { peer_id, addrs } => {
            if peer_id.is_empty() || peer_id.len() > MAX_PEER_ID_BYTES {
                return Err(format!(
                    "a peer id is 1 to {MAX_PEER_ID_BYTES} bytes, not {}",
                    peer_id.len()
                ));
            }
            if addrs.len() > MAX_NODE_ADDRS {
                return Err(format!(
                    "a storage node registers at most {MAX_NODE_ADDRS} addresses, not {}",
                    addrs.len()
                ));
            }
            if let Some(a) = addrs
                .iter()
                .find(|a| a.is_empty() || a.len() > MAX_NODE_ADDR_BYTES)
            {
                return Err(format!(
                    "an address is 1 to {MAX_NODE_ADDR_BYTES} bytes, not {}",
                    a.len()
                ));
            }
            Ok(())
        }
        Payload::StorageGrant { wrapped_key, .. } => {
            if wrapped_key.is_empty() || wrapped_key.len() > MAX_WRAPPED_KEY_BYTES {
                return Err(format!(
                    "a wrapped key is 1 to {MAX_WRAPPED_KEY_BYTES} bytes, not {}",
                    wrapped_key.len()
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether a call belongs to this module.
pub fn is_storage_call(payload: &Payload) -> bool {
    matches!(
        payload,
        Payload::StorageAlloc { .. }
            | Payload::StorageRenew { .. }
            | Payload::StorageCollect { .. }
            | Payload::StorageRegister { .. }
            | Payload::StorageUnregister
            | Payload::StorageGrant { .. }
    )
}

/// Runs a storage call for `from`.
pub fn dispatch(
    state: &mut Overlay<'_>,
    env: &StorageEnv<'_>,
    from: &Address,
    payload: &Payload,
) -> CallResult {
    if let Err(reason) = check_call(payload, env.params) {
        return Ok(Err(CallFailure {
            code: fail_codes::BAD_STORAGE_CALL,
            reason,
        }));
    }
    match payload {
        Payload::StorageAlloc {
            content_id,
            size,
            blocks,
            replicas,
            priority,
            mode,
            period_ms,
            public,
        } => ops::alloc(
            state,
            env,
            from,
            ops::AllocArgs {
                content_id: *content_id,
                size: *size,
                blocks: *blocks,
                replicas: *replicas,
                priority: *priority,
                mode: *mode,
                period_ms: *period_ms,
                public: *public,
            },
        ),
        Payload::StorageRenew {
            content_id,
            period_ms,
        } => ops::renew(state, env, from, content_id, *period_ms),
        Payload::StorageCollect { content_id } => ops::collect(state, env, from, content_id),
        Payload::StorageRegister { peer_id, addrs } => {
            ops::register(state, env, from, peer_id, addrs)
        }
        Payload::StorageUnregister => ops::unregister(state, from),
        Payload::StorageGrant {
            content_id,
            reader,
            wrapped_key,
        } => ops::grant(state, env, from, content_id, reader, wrapped_key),
        _ => Err(ExecError::Internal(format!(
            "{} call sent to the storage module",
            payload.kind()
        ))),
    }
}

/// The allocation of `content`, live or expired, if one exists. One read.
pub fn allocation(state: &dyn StateView, content: &Hash) -> Result<Option<Allocation>, ExecError> {
    load(state, &keys::allocation(content))
}

/// The allocation of `content` if it is live at block time `now_ms`.
pub fn live_allocation(
    state: &dyn StateView,
    content: &Hash,
    now_ms: u64,
) -> Result<Option<Allocation>, ExecError> {
    Ok(allocation(state, content)?.filter(|a| now_ms < a.expires_ms))
}

/// Every registered storage node, in registration order. One read.
pub fn storage_nodes(state: &dyn StateView) -> Result<Vec<StorageNode>, ExecError> {
    Ok(load(state, &keys::nodes())?.unwrap_or_default())
}

/// The grant of `content`'s key to `reader`, if any.
pub fn grant(
    state: &dyn StateView,
    content: &Hash,
    reader: &Address,
) -> Result<Option<Grant>, ExecError> {
    load(state, &keys::grant(content, reader))
}

/// The contents `owner` has allocated (and not had collected), oldest
/// first.
pub fn contents_of(state: &dyn StateView, owner: &Address) -> Result<Vec<Hash>, ExecError> {
    Ok(load(state, &keys::owned(owner))?.unwrap_or_default())
}

/// The contents `reader` holds grants for, oldest first.
pub fn grants_to(state: &dyn StateView, reader: &Address) -> Result<Vec<Hash>, ExecError> {
    Ok(load(state, &keys::granted(reader))?.unwrap_or_default())
}

/// The readers `content` has granted its key to, oldest first.
pub fn readers_of(state: &dyn StateView, content: &Hash) -> Result<Vec<Address>, ExecError> {
    Ok(load(state, &keys::readers(content))?.unwrap_or_default())
}

/// A box message linking to `content_id` of `size` bytes: the content must
/// be live at `now_ms` and have exactly that size.
pub fn check_link(
    state: &dyn StateView,
    now_ms: u64,
    content_id: &Hash,
    size: u64,
) -> Result<Result<(), CallFailure>, ExecError> {
    let Some(a) = live_allocation(state, content_id, now_ms)? else {
        return Ok(Err(CallFailure {
            code: fail_codes::NOT_ALLOCATED,
            reason: format!("content {content_id} is not allocated (or has expired)"),
        }));
    };
    if a.size != size {
        return Ok(Err(CallFailure {
            code: fail_codes::LINK_SIZE_MISMATCH,
            reason: format!(
                "content {content_id} is {} bytes, the link says {size}",
                a.size
            ),
        }));
    }
    Ok(Ok(()))
}
