//! The one error type of the storage crate.

use crate::Version;

/// Everything that can go wrong in storage.
///
/// Bytes read from disk are never trusted: a value that fails to decode is
/// reported as [`StorageError::Corrupt`], never a panic.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// RocksDB itself failed (IO error, corruption detected by RocksDB, ...).
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    /// Creating the database directory failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The Jellyfish Merkle tree reported an error (it uses `anyhow`).
    #[error("jellyfish merkle tree: {0:#}")]
    Jmt(anyhow::Error),
    /// Bytes on disk did not decode; `what` names the column family or record.
    #[error("corrupt data on disk in `{what}`: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The state version existed but has been pruned.
    #[error("state version {version} was pruned; the earliest retained version is {earliest}")]
    Pruned { version: Version, earliest: Version },
    /// The state version has not been written (yet).
    #[error("state version {version} does not exist (latest committed: {latest:?})")]
    MissingVersion {
        version: Version,
        latest: Option<Version>,
    },
    /// `prepare_state` was given no changes (the tree needs at least one).
    #[error("empty change set for state version {version}")]
    EmptyChangeSet { version: Version },
    /// A state value is larger than storage will read back.
    #[error("state value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge { len: usize, max: usize },
    /// `rollback_to` was asked for a height whose state has been pruned.
    #[error(
        "cannot roll back to height {target}: its state was pruned; the earliest retained version is {earliest}"
    )]
    RollbackTooDeep { target: u64, earliest: Version },
    /// A block was committed out of order.
    #[error("cannot commit block at height {got}: the next height is {expected}")]
    NonSequentialCommit { expected: u64, got: u64 },
    /// The state update was prepared for another version than the block height.
    #[error("state update is for version {update} but the block is at height {height}")]
    UpdateVersionMismatch { update: Version, height: u64 },
    /// `meta_put` was asked to overwrite a key the store manages itself.
    #[error("meta key `{0}` is reserved for the store")]
    ReservedMetaKey(String),
    /// A column family the store needs was not opened.
    #[error("column family `{0}` is missing")]
    MissingColumnFamily(&'static str),
    /// An operation umbra does not support was requested.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

impl StorageError {
    /// Builds a [`StorageError::Corrupt`].
    pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        StorageError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }

    /// Converts an error coming out of jmt, recovering a [`StorageError`] our own
    /// tree reader raised (jmt wraps it in `anyhow`, possibly with context).
    pub(crate) fn from_jmt(err: anyhow::Error) -> Self {
        match err.downcast::<StorageError>() {
            Ok(e) => e,
            Err(e) => StorageError::Jmt(e),
        }
    }
}
