//! Persistent storage of the umbra node.
//!
//! Owns:
//! - the RocksDB database and its column families (see [`columns`]): block
//!   headers, bodies and receipts by height, the block-hash and transaction
//!   indexes, a few meta values (head pointer, pruning mark, caller keys);
//! - the versioned state: a Jellyfish Merkle tree (SHA-256) whose version is
//!   the block height (genesis is version 0), with roots, proofs, reads at any
//!   retained version, and pruning of versions older than a window;
//! - the atomic commit of a block with its receipts and state update, so a
//!   crash (even `kill -9`) leaves either all of a block or none of it;
//! - the atomic rollback of the newest blocks down to a height whose state
//!   is retained ([`Store::rollback_to`]), so another fork can be committed;
//! - a bounded in-memory cache of the newest value of recently used state
//!   keys at the head (`head_cache`), so block execution and the commit do
//!   not seek RocksDB for every key; RocksDB stays the truth;
//! - [`ChangeSet`], a block's state changes sorted by key, which
//!   [`Store::prepare_state`] turns into a new root;
//! - [`MemState`], an in-memory [`StateView`] for unit tests of other crates.
//!
//! Must not: contain business logic. It does not execute or validate
//! transactions or blocks, interpret state keys or values, or decide which
//! block is canonical; it stores what it is given and checks only its own
//! invariants (blocks are committed in height order, updates match heights).
//!
//! Every byte read from disk is decoded with a size limit, and anything that
//! fails to decode is a [`StorageError::Corrupt`], never a panic.

pub mod blocks;
mod change_set;
pub mod columns;
mod commit;
pub mod error;
mod head_cache;
mod jmt_store;
mod keys;
pub mod memory;
mod node_cache;
mod rollback;
pub mod state;
pub mod store;
pub mod view;

#[cfg(test)]
mod testutil;

pub use blocks::TxLocation;
pub use change_set::{Change, ChangeSet};
pub use error::StorageError;
pub use head_cache::{
    DEFAULT_MAX_BYTES as HEAD_CACHE_BYTES, DEFAULT_MAX_ENTRIES as HEAD_CACHE_ENTRIES,
};
pub use keys::MAX_STATE_VALUE_LEN;
pub use memory::MemState;
pub use node_cache::DEFAULT_MAX_BYTES as NODE_CACHE_BYTES;
pub use rollback::RollbackReport;
pub use state::{EMPTY_STATE_ROOT, StateProof, StateUpdate, key_hash};
pub use store::{Store, StoreConfig};
pub use view::{StateAt, StateView};

/// A state version. It equals the block height; genesis is version 0.
pub type Version = u64;
