//! The Jellyfish Merkle tree's view of the store: a [`TreeReader`] over one
//! RocksDB snapshot, so every read of one query or one `prepare_state` sees
//! the same committed state even while a block is being committed.

use crate::Version;
use crate::columns;
use crate::error::StorageError;
use crate::keys::{self, MAX_NODE_BYTES, MAX_STORED_VALUE_BYTES, value_key};
use crate::store::Store;
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue};
use rocksdb::{DB, DBRawIteratorWithThreadMode, ReadOptions, Snapshot};

/// A stored state value entry: its version and value (`None`: a tombstone).
pub(crate) type StoredValue = (Version, Option<Vec<u8>>);

/// Reads state (JMT nodes, values, version bounds) from one snapshot.
pub(crate) struct StateReader<'a> {
    store: &'a Store,
    snap: Snapshot<'a>,
}

impl<'a> StateReader<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        StateReader {
            store,
            snap: store.db.snapshot(),
        }
    }

    /// The newest committed version (= head height), `None` before genesis.
    pub(crate) fn latest_version(&self) -> Result<Option<Version>, StorageError> {
        let meta = self.store.cf(columns::META)?;
        match self.snap.get_cf(meta, keys::META_HEAD)? {
            Some(b) => Ok(Some(keys::decode_head(&b)?.0)),
            None => Ok(None),
        }
    }

    /// The oldest version not pruned.
    pub(crate) fn earliest_version(&self) -> Result<Version, StorageError> {
        read_earliest(
            self.snap
                .get_cf(self.store.cf(columns::META)?, keys::META_EARLIEST_STATE)?,
        )
    }

    /// Fails unless `version` is committed and not pruned; returns the
    /// newest committed version.
    pub(crate) fn check_version(&self, version: Version) -> Result<Version, StorageError> {
        let latest = self.latest_version()?;
        let head = match latest {
            Some(l) if version <= l => l,
            _ => return Err(StorageError::MissingVersion { version, latest }),
        };
        let earliest = self.earliest_version()?;
        if version < earliest {
            return Err(StorageError::Pruned { version, earliest });
        }
        Ok(head)
    }

    /// A JMT node: from the node cache (a recent commit wrote it), else from
    /// the snapshot.
    pub(crate) fn node(&self, node_key: &NodeKey) -> Result<Option<Node>, StorageError> {
        if let Some(node) = self.store.node_cache.get(node_key) {
            return Ok(Some(node));
        }
        let cf = self.store.cf(columns::STATE_NODES)?;
        match self.snap.get_cf(cf, umbra_types::encode(node_key))? {
            Some(b) => Ok(Some(keys::decode(
                &b,
                MAX_NODE_BYTES,
                columns::STATE_NODES,
            )?)),
            None => Ok(None),
        }
    }

    /// The value of `key_hash` as of `max_version` (`None` if absent or deleted).
    pub(crate) fn value(
        &self,
        key_hash: &KeyHash,
        max_version: Version,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .value_entry(key_hash, max_version)?
            .and_then(|(_, v)| v))
    }

    /// The newest stored entry of `key_hash` at or below `max_version`: its
    /// version and value (`None`: a deletion tombstone); `None` if there is none.
    pub(crate) fn value_entry(
        &self,
        key_hash: &KeyHash,
        max_version: Version,
    ) -> Result<Option<StoredValue>, StorageError> {
        let cf = self.store.cf(columns::STATE_VALUES)?;
        let it = self
            .snap
            .raw_iterator_cf_opt(cf, value_read_options(key_hash));
        match seek_value(it, key_hash, max_version)? {
            Some((version, bytes)) => {
                let value = keys::decode::<Option<Vec<u8>>>(
                    &bytes,
                    MAX_STORED_VALUE_BYTES,
                    columns::STATE_VALUES,
                )?;
                Ok(Some((version, value)))
            }
            None => Ok(None),
        }
    }
}

/// Parses the stored earliest-version mark (absent = 0).
pub(crate) fn read_earliest(bytes: Option<Vec<u8>>) -> Result<Version, StorageError> {
    match bytes {
        Some(b) => keys::decode_u64(&b, "meta/state_earliest"),
        None => Ok(0),
    }
}

/// Read options that keep an iterator within one key hash's versions.
pub(crate) fn value_read_options(key_hash: &KeyHash) -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.set_iterate_lower_bound(key_hash.0.to_vec());
    ro
}

/// Finds the newest stored entry of `key_hash` with version <= `max_version`:
/// its version and raw (still encoded) bytes.
pub(crate) fn seek_value(
    mut it: DBRawIteratorWithThreadMode<'_, DB>,
    key_hash: &KeyHash,
    max_version: Version,
) -> Result<Option<(Version, Vec<u8>)>, StorageError> {
    it.seek_for_prev(value_key(key_hash, max_version));
    if !it.valid() {
        it.status()?;
        return Ok(None);
    }
    let (Some(key), Some(value)) = (it.key(), it.value()) else {
        return Ok(None);
    };
    if !key.starts_with(&key_hash.0) {
        return Ok(None);
    }
    let (_, version) = keys::split_value_key(key)?;
    Ok(Some((version, value.to_vec())))
}

impl TreeReader for StateReader<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.node(node_key)?)
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.value(&key_hash, max_version)?)
    }

    /// Only jmt's restore (state sync from chunks) calls this, and umbra does
    /// not use restore, so there is no index to answer it from.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Err(StorageError::Unsupported("get_rightmost_leaf: jmt restore is not supported").into())
    }
}
