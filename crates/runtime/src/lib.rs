//! The umbra state machine.
//!
//! Owns: the rules for what a transaction does to state — accounts, native
//! token transfers, fees, events, boxes (`boxes/`), elections (`election/`),
//! the content storage market (`storage/`) — the checks a transaction must pass to be
//! included (chain id, nonce, fee, balance, reference block), the resource set
//! every call declares, and block execution behind the [`Executor`] interface.
//!
//! Must not: do IO, read clocks or OS randomness, iterate hash maps, or use
//! floats. Everything it needs (state, block time, recent block hashes) comes
//! in as an input, so every node computes the same result.

pub mod account;
pub mod boxes;
pub mod context;
pub mod election;
pub mod error;
pub mod executor;
pub mod fees;
pub mod genesis;
pub mod keys;
pub mod overlay;
pub mod parallel;
pub mod params;
pub mod resources;
mod sorted_run;
pub mod storage;
pub mod token;
pub mod validate;

pub use account::Account;
pub use context::{BlockContext, RefBlocks};
pub use error::{ExecError, TxInvalid, fail_codes};
pub use executor::{BlockOutput, Credits, ExecMode, Executor, ExecutorInfo, SequentialExecutor};
pub use fees::{REWARD_POOL, STORAGE_POOL, required_fee, storage_pool};
pub use genesis::{GenesisError, genesis_changes};
pub use overlay::{Overlay, Writes};
pub use parallel::{ExecStatsSnapshot, ParallelExecutor};
pub use params::ChainParams;
pub use resources::{Delta, ResourceSet, resources_of, resources_of_sender};
pub use validate::{check_ref_block, check_stateless};

/// State changes of a block: key → new value, `None` for a deletion, in key
/// order so iteration is the same on every node.
pub type Changes = umbra_storage::ChangeSet;
