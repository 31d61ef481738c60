//! The umbra node: wiring, not rules.
//!
//! Owns: the chain (block store + state + executor + consensus engine, with
//! the producer and importer paths that end in one atomic commit), the
//! mempool, transaction admission, the block producer thread, the JSON-RPC
//! server, the peer-to-peer side (gossip, sync, fork choice), chain specs and
//! key files.
//!
//! Must not: define protocol rules — what a transaction does lives in
//! `umbra-runtime`, who may propose in `umbra-consensus`, encodings in
//! `umbra-types`. The wall clock is read here and passed down as an input.

pub mod chain;
pub mod content;
pub mod engine;
pub mod evidence;
pub mod forks;
pub mod keyfile;
pub mod mempool;
pub mod p2p;
pub mod rpc_boxes;
pub mod rpc_consensus;
pub mod rpc_election;
pub mod rpc_server;
pub mod rpc_storage;
pub mod service;
pub mod spec;
pub mod submit;
pub mod verified;

pub use chain::{Chain, ChainError, ImportError};
pub use keyfile::{KeyFileError, load_key, save_key};
pub use mempool::{Admission, Mempool, MempoolConfig, Rejection};
pub use service::{ExecutorChoice, Node, NodeConfig, NodeError, now_ms};
pub use spec::{ChainSpec, dev_spec};
