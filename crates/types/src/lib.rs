//! Core data types of umbra: hashes, keys, addresses, transactions, blocks,
//! headers, receipts and the binary Merkle tree, with their canonical encoding.
//!
//! Owns: the wire and disk format of every consensus object (borsh, one
//! canonical encoding per value) and the bounded decoder every caller must use
//! for untrusted bytes.
//!
//! Must not: do IO, verify signatures (that is `umbra-crypto`), or know about
//! state, storage or networking.

pub mod amount;
pub mod block;
pub mod boxes;
pub mod codec;
pub mod hash;
pub mod keys;
pub mod merkle;
pub mod receipt;
pub mod storage;
pub mod transaction;

pub use amount::{Amount, DECIMALS, format_amount, parse_amount};
pub use block::{Block, Header};
pub use boxes::{GateKind, MessageBody};
pub use codec::{DecodeError, decode_bounded, encode};
pub use hash::{Hash, sha256, sha256_parts};
pub use keys::{Address, AddressError, PublicKey, Signature};
pub use merkle::{MerkleProof, MerkleTree, merkle_proof, merkle_root};
pub use receipt::{Event, Receipt, TxStatus};
pub use storage::{
    Allocation, Grant, MAX_CONTENT_BLOCKS, Priority, STORAGE_BLOCK_SIZE, StorageMode, StorageNode,
    content_blocks,
};
pub use transaction::{Payload, RefBlock, Transaction, UnsignedTransaction};

/// Identifies a chain; transactions and blocks carry it so they cannot be
/// replayed on another chain.
pub type ChainId = u64;
/// Block height; genesis is 0.
pub type Height = u64;
