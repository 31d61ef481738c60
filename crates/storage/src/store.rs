//! The RocksDB-backed store: opening, column family handles, meta values.

use crate::columns;
use crate::error::StorageError;
use crate::head_cache::HeadCache;
use crate::keys::{self, META_HEAD, RESERVED_META_KEYS};
use crate::node_cache::NodeCache;
use parking_lot::Mutex;
use rocksdb::{ColumnFamily, DB, WriteOptions};
use std::path::Path;
use umbra_types::Hash;

/// How the store behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Keep this many most recent state versions (the head and the
    /// `prune_window - 1` before it); older ones are pruned on commit.
    /// 0 keeps every version.
    pub prune_window: u64,
    /// fsync the write-ahead log on every block commit. The WAL is always on, so
    /// without this a committed block survives a process crash (kill -9) but
    /// not necessarily a power loss.
    pub sync_writes: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            prune_window: 1024,
            sync_writes: false,
        }
    }
}

/// The node's database: blocks, receipts, indexes and the versioned state tree.
///
/// `Send + Sync`; every method takes `&self`. Commits are serialized by an
/// internal lock; reads never wait for it.
pub struct Store {
    pub(crate) db: DB,
    pub(crate) cfg: StoreConfig,
    /// Held for the whole of `commit_block` and of `rollback_to`.
    pub(crate) commit_lock: Mutex<()>,
    /// Newest value versions of recently used keys at the head; see
    /// [`crate::head_cache`]. Only a cache: the database stays the truth.
    pub(crate) head_cache: HeadCache,
    /// Recently written or read JMT nodes; see [`crate::node_cache`].
    pub(crate) node_cache: NodeCache,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl Store {
    /// Opens (creating if missing) the database at `path` with every column family.
    pub fn open(path: &Path, cfg: StoreConfig) -> Result<Store, StorageError> {
        std::fs::create_dir_all(path)?;
        let db = DB::open_cf_descriptors(&columns::db_options(), path, columns::descriptors())?;
        let store = Store {
            db,
            cfg,
            commit_lock: Mutex::new(()),
            head_cache: HeadCache::new(None, 0),
            node_cache: NodeCache::new(),
        };
        let head = store.head()?;
        let earliest = store.earliest_state_version()?;
        store.head_cache.reset(head.map(|(h, _)| h), earliest);
        tracing::debug!(path = %path.display(), ?head, "opened store");
        Ok(store)
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Bounds the head-state cache (the newest value of recently read or
    /// written state keys, kept in memory so reads at the head and commits
    /// need no database seek) to `max_entries` entries and about `max_bytes`
    /// bytes, and empties it. 0 entries turns it off. The defaults are
    /// [`HEAD_CACHE_ENTRIES`](crate::HEAD_CACHE_ENTRIES) and
    /// [`HEAD_CACHE_BYTES`](crate::HEAD_CACHE_BYTES).
    pub fn set_head_cache_limits(&self, max_entries: usize, max_bytes: usize) {
        self.head_cache.set_limits(max_entries, max_bytes);
    }

    /// The head-state cache's (hits, misses, entries) since the store was opened.
    pub fn head_cache_stats(&self) -> (u64, u64, usize) {
        self.head_cache.stats()
    }

    /// Bounds the JMT node cache (the nodes the last few commits wrote, so
    /// the next block's tree update and proofs need no database read for
    /// them) to about `max_bytes` bytes, and empties it. 0 turns it off.
    /// The default is [`NODE_CACHE_BYTES`](crate::NODE_CACHE_BYTES).
    pub fn set_node_cache_limit(&self, max_bytes: usize) {
        self.node_cache.set_limit(max_bytes);
    }

    /// The node cache's (hits, misses, nodes kept) since the store was opened.
    pub fn node_cache_stats(&self) -> (u64, u64, usize) {
        self.node_cache.stats()
    }

    /// Empties both caches after a failed write: what is on disk is not known.
    pub(crate) fn forget_cached(&self) {
        self.head_cache.reset(None, 0);
        self.node_cache.reset();
    }

    pub(crate) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StorageError> {
        self.db
            .cf_handle(name)
            .ok_or(StorageError::MissingColumnFamily(name))
    }

    pub(crate) fn write_options(&self) -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.cfg.sync_writes);
        wo
    }

    /// Height and hash of the last committed block, `None` before genesis.
    pub fn head(&self) -> Result<Option<(u64, Hash)>, StorageError> {
        match self.db.get_cf(self.cf(columns::META)?, META_HEAD)? {
            Some(bytes) => keys::decode_head(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads a meta value.
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.db.get_cf(self.cf(columns::META)?, key)?)
    }

    /// Writes a meta value on its own (not part of a block commit). Keys the
    /// store manages itself (`head`, `state_earliest`) are refused.
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        if RESERVED_META_KEYS.contains(&key) {
            return Err(StorageError::ReservedMetaKey(key.to_string()));
        }
        let cf = self.cf(columns::META)?;
        Ok(self.db.put_cf_opt(cf, key, value, &self.write_options())?)
    }

    /// Test helper: writes raw bytes into any column family.
    #[cfg(test)]
    pub(crate) fn raw_put(
        &self,
        cf: &'static str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        self.db.put_cf(self.cf(cf)?, key, value)?;
        // Bytes written behind the store's back: what the caches held may
        // no longer be what is on disk. The head cache stays off until the
        // next commit.
        self.forget_cached();
        Ok(())
    }

    /// Test helper: deletes a key from any column family behind the store's back.
    #[cfg(test)]
    pub(crate) fn raw_delete(&self, cf: &'static str, key: &[u8]) -> Result<(), StorageError> {
        self.db.delete_cf(self.cf(cf)?, key)?;
        self.forget_cached();
        Ok(())
    }

    /// Test helper: flushes every column family to SST files.
    #[cfg(test)]
    pub(crate) fn flush_all(&self) {
        for name in columns::ALL {
            self.db.flush_cf(self.cf(name).unwrap()).unwrap();
        }
    }

    /// Test helper: number of keys in a column family.
    #[cfg(test)]
    pub(crate) fn count_keys(&self, cf: &'static str) -> usize {
        self.db
            .iterator_cf(self.cf(cf).unwrap(), rocksdb::IteratorMode::Start)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
    }

    #[test]
    fn meta_round_trip_and_reserved_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/db");
        {
            let store = Store::open(&path, StoreConfig::default()).unwrap();
            assert_eq!(store.head().unwrap(), None);
            assert_eq!(store.meta_get("spec").unwrap(), None);
            store.meta_put("spec", b"abc").unwrap();
            assert!(matches!(
                store.meta_put("head", b"x"),
                Err(StorageError::ReservedMetaKey(_))
            ));
        }
        let store = Store::open(&path, StoreConfig::default()).unwrap();
        assert_eq!(
            store.meta_get("spec").unwrap().as_deref(),
            Some(&b"abc"[..])
        );
    }

    #[test]
    fn corrupt_head_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
        store
            .raw_put(columns::META, META_HEAD.as_bytes(), b"short")
            .unwrap();
        assert!(matches!(store.head(), Err(StorageError::Corrupt { .. })));
    }
}
