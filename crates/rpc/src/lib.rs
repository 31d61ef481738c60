//! The JSON-RPC interface of umbra: method names, JSON views of chain
//! objects, numeric error codes, and a client.
//!
//! Owns: the wire contract between nodes and their clients (the CLI, tests,
//! applications). Method names and error codes here are stable; extend them,
//! never rename.
//!
//! Must not: implement the methods (that is the node) or hold chain rules.

pub mod box_views;
pub mod client;
pub mod codes;
pub mod consensus_views;
pub mod election_views;
pub mod storage_views;
pub mod views;

pub use box_views::*;
pub use client::{RpcClient, RpcClientError};
pub use codes::ErrorCode;
pub use consensus_views::*;
pub use election_views::*;
pub use storage_views::*;
pub use views::*;

/// Default address the node serves RPC on.
pub const DEFAULT_RPC_ADDR: &str = "127.0.0.1:9944";
/// Default URL clients connect to.
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:9944";
/// Largest JSON-RPC request body the node accepts.
pub const MAX_REQUEST_BYTES: u32 = 2 * 1024 * 1024;
/// Largest number of transactions in one `tx_submitBatch` call.
pub const MAX_SUBMIT_BATCH: usize = 5_000;
