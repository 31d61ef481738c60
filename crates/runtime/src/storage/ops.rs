//! The storage calls. Each runs in the transaction's child overlay, so a
//! failure drops everything it wrote, payments included.

use super::{StorageEnv, keys, storage_price};
use crate::boxes::ops::CallResult;
use crate::boxes::state::{load, store};
use crate::error::{ExecError, fail_codes};
use crate::overlay::Overlay;
use crate::token::{CallFailure, credit, debit};
use umbra_types::{Address, Allocation, Event, Grant, Hash, Priority, StorageMode, StorageNode};

fn fail(code: u16, reason: impl Into<String>) -> CallResult {
    Ok(Err(CallFailure {
        code,
        reason: reason.into(),
    }))
}

/// Stores a list, or deletes its key when it is empty (an empty list and
/// no list read alike).
fn store_list<T: borsh::BorshSerialize>(state: &mut Overlay<'_>, key: Vec<u8>, list: &[T]) {
    if list.is_empty() {
        state.delete(key);
    } else {
        store(state, key, &list);
    }
}

/// Removes `item` from the list at `key`.
fn remove_from<T: borsh::BorshSerialize + borsh::BorshDeserialize + PartialEq>(
    state: &mut Overlay<'_>,
    key: Vec<u8>,
    item: &T,
) -> Result<(), ExecError> {
    let mut list: Vec<T> = load(state, &key)?.unwrap_or_default();
    let before = list.len();
    list.retain(|x| x != item);
    if list.len() != before {
        store_list(state, key, &list);
    }
    Ok(())
}

/// The arguments of `StorageAlloc`.
#[derive(Clone, Copy, Debug)]
pub struct AllocArgs {
    pub content_id: Hash,
    pub size: u64,
    pub blocks: u64,
    pub replicas: u8,
    pub priority: Priority,
    pub mode: StorageMode,
    pub period_ms: u64,
    pub public: bool,
}

/// Removes an allocation with its owner-index entry, its grants and the
/// readers' index entries.
fn remove(
    state: &mut Overlay<'_>,
    alloc: &Allocation,
    collector: &Address,
) -> Result<Event, ExecError> {
    let id = alloc.content_id;
    state.delete(keys::allocation(&id));
    remove_from(state, keys::owned(&alloc.owner), &id)?;
    let readers: Vec<Address> = load(state, &keys::readers(&id))?.unwrap_or_default();
    for r in &readers {
        state.delete(keys::grant(&id, r));
        remove_from(state, keys::granted(r), &id)?;
    }
    if !readers.is_empty() {
        state.delete(keys::readers(&id));
    }
    Ok(Event::StorageCollected {
        content_id: id,
        owner: alloc.owner,
        collector: *collector,
    })
}

pub fn alloc(
    state: &mut Overlay<'_>,
    env: &StorageEnv<'_>,
    from: &Address,
    a: AllocArgs,
) -> CallResult {
    let now = env.timestamp_ms;
    let Some(price) = storage_price(
        env.params,
        a.blocks,
        a.replicas,
        a.priority,
        a.mode,
        a.period_ms,
    ) else {
        return fail(
            fail_codes::BAD_STORAGE_CALL,
            "the price of this allocation overflows",
        );
    };
    let mut events = Vec::new();
    if let Some(old) = super::allocation(state, &a.content_id)? {
        if now < old.expires_ms {
            return fail(
                fail_codes::ALREADY_ALLOCATED,
                format!(
                    "content {} is already allocated by {} until {} ms; its owner renews it",
                    a.content_id, old.owner, old.expires_ms
                ),
            );
        }
        // Expired: whoever allocates it again collects it first.
        events.push(remove(state, &old, from)?);
    }
    let mut owned: Vec<Hash> = load(state, &keys::owned(from))?.unwrap_or_default();
    if owned.len() as u64 >= env.params.max_contents_per_account {
        return fail(
            fail_codes::TOO_MANY_CONTENTS,
            format!(
                "an account owns at most {} contents",
                env.params.max_contents_per_account
            ),
        );
    }
    if !debit(state, from, price)? {
        return fail(
            fail_codes::INSUFFICIENT_BALANCE,
            format!("this allocation costs {price}"),
        );
    }
    owned.push(a.content_id);
    store(state, keys::owned(from), &owned);
    let expires_ms = now.saturating_add(a.period_ms);
    store(
        state,
        keys::allocation(&a.content_id),
        &Allocation {
            owner: *from,
            content_id: a.content_id,
            size: a.size,
            blocks: a.blocks,
            replicas: a.replicas,
            priority: a.priority,
            mode: a.mode,
            public: a.public,
            created_ms: now,
            expires_ms,
            paid: price,
        },
    );
    events.push(Event::StorageAllocated {
        content_id: a.content_id,
        owner: *from,
        expires_ms,
        paid: price,
    });
    Ok(Ok(events))
}

pub fn renew(
    state: &mut Overlay<'_>,
    env: &StorageEnv<'_>,
    from: &Address,
    content_id: &Hash,
    period_ms: u64,
) -> CallResult {
    let now = env.timestamp_ms;
    let Some(mut alloc) = super::allocation(state, content_id)? else {
        return fail(
            fail_codes::NOT_ALLOCATED,
            format!("content {content_id} is not allocated"),
        );
    };
    let Some(price) = storage_price(
        env.params,
        alloc.blocks,
        alloc.replicas,
        alloc.priority,
        alloc.mode,
        period_ms,
    ) else {
        return fail(
            fail_codes::BAD_STORAGE_CALL,
            "the price of this renewal overflows",
        );
    };
    let expires_ms = alloc.expires_ms.max(now).saturating_add(period_ms);
    if expires_ms - now > env.params.max_storage_period_ms {
        return fail(
            fail_codes::BAD_STORAGE_CALL,
            format!(
                "content {content_id} would have {} ms left, over the longest period of {} ms",
                expires_ms - now,
                env.params.max_storage_period_ms
            ),
        );
    }
    if !debit(state, from, price)? {
        return fail(
            fail_codes::INSUFFICIENT_BALANCE,
            format!("this renewal costs {price}"),
        );
    }
    alloc.expires_ms = expires_ms;
    alloc.paid = alloc.paid.saturating_add(price);
    store(state, keys::allocation(content_id), &alloc);
    Ok(Ok(vec![Event::StorageRenewed {
        content_id: *content_id,
        payer: *from,
        expires_ms,
        paid: price,
    }]))
}

pub fn collect(
    state: &mut Overlay<'_>,
    env: &StorageEnv<'_>,
    from: &Address,
    content_id: &Hash,
) -> CallResult {
    let Some(alloc) = super::allocation(state, content_id)? else {
        return fail(
            fail_codes::NOT_ALLOCATED,
            format!("content {content_id} is not allocated"),
        );
    };
    if env.timestamp_ms < alloc.expires_ms {
        return fail(
            fail_codes::NOT_EXPIRED,
            format!(
                "content {content_id} is allocated until {} ms",
                alloc.expires_ms
            ),
        );
    }
    Ok(Ok(vec![remove(state, &alloc, from)?]))
}

pub fn grant(
    state: &mut Overlay<'_>,
    env: &StorageEnv<'_>,
    from: &Address,
    content_id: &Hash,
    reader: &Address,
    wrapped_key: &[u8],
) -> CallResult {
    let Some(alloc) = super::live_allocation(state, content_id, env.timestamp_ms)? else {
        return fail(
            fail_codes::NOT_ALLOCATED,
            format!("content {content_id} is not allocated (or has expired)"),
        );
    };
    if alloc.owner != *from {
        return fail(
            fail_codes::NOT_OWNER,
            format!(
                "only the owner of content {content_id} ({}) may grant its key",
                alloc.owner
            ),
        );
    }
    if alloc.public {
        return fail(
            fail_codes::PUBLIC_CONTENT,
            format!("content {content_id} is public: reading it needs no key"),
        );
    }
    let key = keys::grant(content_id, reader);
    if state.get(&key)?.is_none() {
        let mut readers: Vec<Address> =
            load(state, &keys::readers(content_id))?.unwrap_or_default();
        if readers.len() as u64 >= env.params.max_grants_per_content {
            return fail(
                fail_codes::TOO_MANY_GRANTS,
                format!(
                    "a content grants its key to at most {} readers",
                    env.params.max_grants_per_content
                ),
            );
        }
        let mut granted: Vec<Hash> = load(state, &keys::granted(reader))?.unwrap_or_default();
        if granted.len() as u64 >= env.params.max_contents_per_account {
            return fail(
                fail_codes::TOO_MANY_CONTENTS,
                format!(
                    "an account holds grants for at most {} contents",
                    env.params.max_contents_per_account
                ),
            );
        }
        readers.push(*reader);
        store(state, keys::readers(content_id), &readers);
        granted.push(*content_id);
        store(state, keys::granted(reader), &granted);
    }
    store(
        state,
        key,
        &Grant {
            content_id: *content_id,
            owner: *from,
            reader: *reader,
            wrapped_key: wrapped_key.to_vec(),
            granted_ms: env.timestamp_ms,
        },
    );
    Ok(Ok(vec![Event::StorageGranted {
        content_id: *content_id,
        reader: *reader,
    }]))
}

pub fn register(
    state: &mut Overlay<'_>,
    env: &StorageEnv<'_>,
    from: &Address,
    peer_id: &[u8],
    addrs: &[String],
) -> CallResult {
    let mut table: Vec<StorageNode> = load(state, &keys::nodes())?.unwrap_or_default();
    if let Some(other) = table
        .iter()
        .find(|n| n.peer_id == peer_id && n.operator != *from)
    {
        return fail(
            fail_codes::PEER_ID_TAKEN,
            format!("that peer id is registered by {}", other.operator),
        );
    }
    let deposit = match table.iter_mut().find(|n| n.operator == *from) {
        Some(n) => {
            n.peer_id = peer_id.to_vec();
            n.addrs = addrs.to_vec();
            0
        }
        None => {
            if table.len() as u64 >= env.params.max_storage_nodes {
                return fail(
                    fail_codes::TOO_MANY_STORAGE_NODES,
                    format!(
                        "the chain allows {} storage nodes",
                        env.params.max_storage_nodes
                    ),
                );
            }
            let deposit = env.params.storage_node_deposit;
            if !debit(state, from, deposit)? {
                return fail(
                    fail_codes::INSUFFICIENT_BALANCE,
                    format!("the storage node deposit is {deposit}"),
                );
            }
            table.push(StorageNode {
                operator: *from,
                peer_id: peer_id.to_vec(),
                addrs: addrs.to_vec(),
                deposit,
                registered_ms: env.timestamp_ms,
            });
            deposit
        }
    };
    store(state, keys::nodes(), &table);
    Ok(Ok(vec![Event::StorageNodeRegistered {
        operator: *from,
        peer_id: peer_id.to_vec(),
        deposit,
    }]))
}

pub fn unregister(state: &mut Overlay<'_>, from: &Address) -> CallResult {
    let mut table: Vec<StorageNode> = load(state, &keys::nodes())?.unwrap_or_default();
    let Some(pos) = table.iter().position(|n| n.operator == *from) else {
        return fail(
            fail_codes::NOT_STORAGE_NODE,
            "the sender has no registered storage node",
        );
    };
    let node = table.remove(pos);
    store_list(state, keys::nodes(), &table);
    credit(state, from, node.deposit)?;
    Ok(Ok(vec![Event::StorageNodeUnregistered {
        operator: *from,
        refund: node.deposit,
    }]))
}
