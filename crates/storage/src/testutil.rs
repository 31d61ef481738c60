//! Helpers shared by the tests of this crate.

use crate::{StateUpdate, Store, StoreConfig};
use std::collections::BTreeMap;
use std::path::Path;
use umbra_types::{
    Address, Block, Hash, Header, Payload, PublicKey, Receipt, RefBlock, Signature, Transaction,
    TxStatus,
};

pub fn open(path: &Path, prune_window: u64) -> Store {
    Store::open(
        path,
        StoreConfig {
            prune_window,
            sync_writes: false,
        },
    )
    .unwrap()
}

/// A block at `height` on top of the store's head with `ntx` distinct transactions.
pub fn make_block(
    store: &Store,
    height: u64,
    ntx: usize,
    state_root: Hash,
) -> (Block, Vec<Receipt>) {
    let parent_hash = store.head().unwrap().map(|(_, h)| h).unwrap_or_default();
    let transactions: Vec<Transaction> = (0..ntx)
        .map(|i| Transaction {
            chain_id: 1,
            sender: PublicKey([height as u8; 32]),
            nonce: i as u64,
            ref_block: RefBlock::default(),
            max_fee: 10,
            payload: Payload::Transfer {
                to: Address([i as u8; 32]),
                amount: height as u128,
            },
            signature: Signature::default(),
        })
        .collect();
    let receipts = transactions
        .iter()
        .map(|tx| Receipt {
            tx_hash: tx.hash(),
            status: TxStatus::Success,
            fee_paid: 1,
            events: vec![],
        })
        .collect();
    let header = Header {
        chain_id: 1,
        height,
        parent_hash,
        timestamp_ms: 1000 * height,
        proposer: PublicKey::default(),
        tx_root: Hash::ZERO,
        state_root,
        receipts_root: Hash::ZERO,
        consensus: vec![],
        signature: Signature::default(),
    };
    (
        Block {
            header,
            transactions,
        },
        receipts,
    )
}

/// Prepares `changes`, builds a block carrying the root and commits it.
pub fn commit_height(
    store: &Store,
    height: u64,
    ntx: usize,
    changes: &Changes,
) -> (Block, Vec<Receipt>) {
    let (root, update) = store.prepare_state(changes, height).unwrap();
    commit_update(store, height, ntx, root, update)
}

pub fn commit_update(
    store: &Store,
    height: u64,
    ntx: usize,
    root: Hash,
    update: StateUpdate,
) -> (Block, Vec<Receipt>) {
    let (block, receipts) = make_block(store, height, ntx, root);
    store.commit_block(&block, &receipts, update).unwrap();
    (block, receipts)
}

/// A state change set as the tests write it: key → new value or deletion.
pub type Changes = crate::ChangeSet;

/// Every record of every column family, for comparing stores byte for byte.
pub type Snapshot = BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>;

pub fn snapshot(store: &Store) -> Snapshot {
    crate::columns::ALL
        .iter()
        .map(|name| {
            let it = store
                .db
                .iterator_cf(store.cf(name).unwrap(), rocksdb::IteratorMode::Start);
            let kvs = it
                .map(|r| {
                    let (k, v) = r.unwrap();
                    (k.to_vec(), v.to_vec())
                })
                .collect();
            (*name, kvs)
        })
        .collect()
}

/// The model state after applying `history[..=version]`.
pub fn model_at(history: &[Changes], version: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for c in &history[..=version as usize] {
        for (k, v) in c {
            match v {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
    }
    m
}
