//! Committing a block: one atomic RocksDB write batch with the block, its
//! receipts and indexes, the state tree update, the head pointer, and the
//! pruning of state versions that fell out of the window.
//!
//! Pruning works off the `state_stale` index. Every entry says "this node or
//! value version is not visible at version `since` or later". Once the oldest
//! retained version `earliest` reaches `since`, nothing retained can see the
//! target, so the target and the entry are deleted. Entries come from:
//! - jmt's stale node index (nodes replaced by the update), plus the previous
//!   root, which jmt does not mark stale when an update changes nothing;
//! - for every value written at `v`, the key's previous value version (from
//!   the head-state cache, else found by seeking), superseded at `v`;
//! - for every deletion tombstone written at `v`, the tombstone itself: a
//!   missing entry reads the same as a tombstone once nothing older remains.

use crate::Version;
use crate::blocks::TxLocation;
use crate::columns;
use crate::error::StorageError;
use crate::jmt_store::{read_earliest, seek_value, value_read_options};
use crate::keys::{self, StaleEntry, encode_head, height_key, value_key};
use crate::state::StateUpdate;
use crate::store::Store;
use borsh::BorshSerialize;
use jmt::storage::NodeKey;
use rayon::prelude::*;
use rocksdb::{ReadOptions, WriteBatch};
use umbra_types::{Block, Receipt, encode};

impl Store {
    /// Writes a block with its receipts and state update atomically, moves the
    /// head to it, and prunes state versions older than the prune window.
    ///
    /// The block must be the next one (height 0 on an empty store, else head + 1)
    /// and `update` must have been prepared for its height.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        update: StateUpdate,
    ) -> Result<(), StorageError> {
        let _guard = self.commit_lock.lock();
        let height = block.header.height;
        if update.version != height {
            return Err(StorageError::UpdateVersionMismatch {
                update: update.version,
                height,
            });
        }
        let expected = match self.head()? {
            Some((h, _)) => h.saturating_add(1),
            None => 0,
        };
        if height != expected {
            return Err(StorageError::NonSequentialCommit {
                expected,
                got: height,
            });
        }
        let hash = block.hash();
        // Room for the whole batch up front: growing a batch of tens of MB
        // copies it again at every doubling.
        let estimate = block.transactions.len() * 256
            + update.batch.node_batch.nodes().len() * 192
            + update.batch.node_batch.values().len() * 192
            + update.batch.stale_node_index_batch.len() * 64;
        let mut wb = WriteBatch::with_capacity_bytes(estimate);
        self.put_block(&mut wb, block, receipts)?;
        let stale = self.put_state(&mut wb, height, &update)?;
        let (pruned, earliest) = self.prune(&mut wb, height, stale)?;
        wb.put_cf(
            self.cf(columns::META)?,
            keys::META_HEAD,
            encode_head(height, &hash),
        );
        let values = self.head_cache.stage(&update.batch);
        if let Err(e) = self.db.write_opt(wb, &self.write_options()) {
            // Whatever is on disk now, the caches no longer know it.
            self.forget_cached();
            return Err(e.into());
        }
        // Still under the commit lock, before returning: readers that see
        // the caches' old head meanwhile are ordered before this commit.
        self.head_cache.committed(height, earliest, values);
        let StateUpdate { root, batch, .. } = update;
        self.node_cache.committed(height, batch.node_batch);
        tracing::debug!(height, %hash, %root, pruned, "committed block");
        Ok(())
    }

    fn put_block(
        &self,
        wb: &mut WriteBatch,
        block: &Block,
        receipts: &[Receipt],
    ) -> Result<(), StorageError> {
        let height = block.header.height;
        let hk = height_key(height);
        wb.put_cf(self.cf(columns::HEADERS)?, hk, encode(&block.header));
        wb.put_cf(self.cf(columns::HASH_INDEX)?, block.hash().0, hk);
        wb.put_cf(self.cf(columns::BODIES)?, hk, encode(&block.transactions));
        wb.put_cf(self.cf(columns::RECEIPTS)?, hk, borsh::to_vec(receipts)?);
        let tx_index = self.cf(columns::TX_INDEX)?;
        let mut locations = block
            .transactions
            .par_iter()
            .enumerate()
            .map(|(i, tx)| {
                let index = u32::try_from(i)
                    .map_err(|_| StorageError::Unsupported("more than u32::MAX transactions"))?;
                Ok((tx.hash().0, encode(&TxLocation { height, index })))
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        // In key order: RocksDB inserts a sorted run into its memtable faster.
        locations.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (hash, location) in locations {
            wb.put_cf(tx_index, hash, location);
        }
        Ok(())
    }

    /// Adds the tree nodes and values; returns the keys of the stale entries
    /// the update creates.
    fn put_state(
        &self,
        wb: &mut WriteBatch,
        height: Version,
        update: &StateUpdate,
    ) -> Result<Run, StorageError> {
        let batch = &update.batch;
        let nodes_cf = self.cf(columns::STATE_NODES)?;
        let values_cf = self.cf(columns::STATE_VALUES)?;
        let nodes = batch.node_batch.nodes();
        let mut encoded = Run::default();
        for (key, node) in nodes {
            encoded.push(|b| key.serialize(b), |b| node.serialize(b))?;
        }
        encoded.put_sorted(wb, nodes_cf);
        let mut stale = Run::default();
        for s in &batch.stale_node_index_batch {
            stale.push(
                |b| StaleEntry::append_node_key(b, s.stale_since_version, &s.node_key),
                |_| Ok(()),
            )?;
        }
        let new_root = nodes
            .keys()
            .find(|key| key.nibble_path().num_nibbles() == 0 && key.version() == height);
        if let (Some(root), Some(prev)) = (new_root, height.checked_sub(1)) {
            let prev_root = NodeKey::new(prev, root.nibble_path().clone());
            let stale_nodes = &batch.stale_node_index_batch;
            if !stale_nodes.iter().any(|s| s.node_key == prev_root) {
                stale.push(
                    |b| StaleEntry::append_node_key(b, height, &prev_root),
                    |_| Ok(()),
                )?;
            }
        }
        let values: Vec<_> = batch.node_batch.values().iter().collect();
        // Each key's previous version: from the head-state cache when it
        // knows the key, else one RocksDB seek per written value, read-only
        // and independent: spread over the cores.
        let previous: Vec<Option<Version>> = values
            .par_iter()
            .map(|((version, kh), _)| match version.checked_sub(1) {
                Some(before) => {
                    if let Some(prev) = self.head_cache.previous_version(kh, before) {
                        return Ok(prev);
                    }
                    let it = self
                        .db
                        .raw_iterator_cf_opt(values_cf, value_read_options(kh));
                    Ok(seek_value(it, kh, before)?.map(|(prev, _)| prev))
                }
                None => Ok(None),
            })
            .collect::<Result<_, StorageError>>()?;
        // In key order already (key hash, then version).
        let mut scratch = Vec::new();
        for (((version, kh), value), prev) in values.into_iter().zip(previous) {
            let version = *version;
            scratch.clear();
            value.serialize(&mut scratch)?;
            wb.put_cf(values_cf, value_key(kh, version), &scratch);
            // The value this write replaces goes stale with this version,
            // and so does a deletion's own tombstone.
            let replaced = prev.map(|p| value_key(kh, p));
            let tombstone = value.is_none().then(|| value_key(kh, version));
            for target in replaced.into_iter().chain(tombstone) {
                stale.push(
                    |b| {
                        StaleEntry::append_value_key(b, version, &target);
                        Ok(())
                    },
                    |_| Ok(()),
                )?;
            }
        }
        Ok(stale)
    }

    /// Records this block's stale entries and deletes everything that falls out
    /// of the window. Returns how many targets were deleted and the oldest
    /// retained version after the commit.
    fn prune(
        &self,
        wb: &mut WriteBatch,
        height: Version,
        mut stale: Run,
    ) -> Result<(usize, Version), StorageError> {
        let meta = self.cf(columns::META)?;
        let stale_cf = self.cf(columns::STATE_STALE)?;
        let current = read_earliest(self.db.get_cf(meta, keys::META_EARLIEST_STATE)?)?;
        let earliest = match self.cfg.prune_window {
            0 => current,
            window => current.max(height.saturating_add(1).saturating_sub(window)),
        };
        let mut pruned = 0;
        // This block's entries are not on disk yet; with a window of 1 they are
        // garbage already. Deletes come after the puts above, so they win.
        stale.sort();
        for (key, _) in stale.iter() {
            let since = keys::decode_u64(key.get(..8).unwrap_or_default(), columns::STATE_STALE)?;
            if since <= earliest {
                let entry = StaleEntry::parse(key)?;
                let (cf, target) = entry.target();
                wb.delete_cf(self.cf(cf)?, target);
                pruned += 1;
            } else {
                wb.put_cf(stale_cf, key, b"");
            }
        }
        if earliest > current {
            // Entries with since < current were deleted by earlier prunes.
            let mut ro = ReadOptions::default();
            ro.set_iterate_lower_bound(current.to_be_bytes().to_vec());
            if let Some(end) = earliest.checked_add(1) {
                ro.set_iterate_upper_bound(end.to_be_bytes().to_vec());
            }
            let mut it = self.db.raw_iterator_cf_opt(stale_cf, ro);
            it.seek_to_first();
            while let Some(key) = it.key() {
                let entry = StaleEntry::parse(key)?;
                let (cf, target) = entry.target();
                wb.delete_cf(self.cf(cf)?, target);
                wb.delete_cf(stale_cf, key);
                pruned += 1;
                it.next();
            }
            it.status()?;
            wb.put_cf(meta, keys::META_EARLIEST_STATE, earliest.to_be_bytes());
        }
        Ok((pruned, earliest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::key_hash;
    use crate::testutil::{Changes, commit_height, commit_update, make_block, model_at, open};
    use jmt::storage::{NibblePath, Node};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};
    use umbra_types::Hash;

    fn workload(v: u64) -> Changes {
        let mut c = Changes::new();
        c.insert(b"block-info".to_vec(), Some(v.to_be_bytes().to_vec()));
        if v.is_multiple_of(2) {
            c.insert(format!("k{}", (v * 3) % 30).into_bytes(), None);
        }
        for i in 0..5 {
            c.insert(
                format!("k{}", (v * 7 + i) % 30).into_bytes(),
                Some(format!("{v}-{i}").into()),
            );
        }
        c
    }

    fn all_keys(store: &Store, cf: &'static str) -> BTreeSet<Vec<u8>> {
        let it = store
            .db
            .iterator_cf(store.cf(cf).unwrap(), rocksdb::IteratorMode::Start);
        it.map(|r| r.unwrap().0.to_vec()).collect()
    }

    /// Nodes reachable from the roots of versions `from..=to`, as `state_nodes` keys.
    fn reachable_nodes(store: &Store, from: u64, to: u64) -> BTreeSet<Vec<u8>> {
        let reader = crate::jmt_store::StateReader::new(store);
        let empty: NibblePath = borsh::from_slice(&[0u8; 12]).unwrap();
        let mut out = BTreeSet::new();
        let mut todo: Vec<NodeKey> = (from..=to)
            .map(|v| NodeKey::new(v, empty.clone()))
            .collect();
        while let Some(key) = todo.pop() {
            if !out.insert(encode(&key)) {
                continue;
            }
            let node = reader
                .node(&key)
                .unwrap()
                .unwrap_or_else(|| panic!("missing {key:?}"));
            if let Node::Internal(internal) = node {
                for (nibble, child) in internal.children_sorted() {
                    let path = key
                        .nibble_path()
                        .nibbles()
                        .chain(std::iter::once(nibble))
                        .collect();
                    todo.push(NodeKey::new(child.version, path));
                }
            }
        }
        out
    }

    /// Checks that exactly what retained versions need is on disk: every node
    /// reachable from a retained root and nothing else, every value version
    /// visible at a retained version and nothing else, no overdue stale entry.
    fn check_disk(store: &Store, history: &[Changes]) {
        let head = history.len() as u64 - 1;
        let earliest = store.earliest_state_version().unwrap();
        assert_eq!(
            all_keys(store, columns::STATE_NODES),
            reachable_nodes(store, earliest, head)
        );
        let mut writes: BTreeMap<&Vec<u8>, Vec<(u64, bool)>> = BTreeMap::new();
        for (v, c) in history.iter().enumerate() {
            for (k, val) in c {
                writes.entry(k).or_default().push((v as u64, val.is_some()));
            }
        }
        let mut want = BTreeSet::new();
        for (k, ws) in writes {
            let kh = key_hash(k);
            if let Some(&(v, true)) = ws.iter().rev().find(|(v, _)| *v <= earliest) {
                want.insert(value_key(&kh, v).to_vec());
            }
            want.extend(
                ws.iter()
                    .filter(|(v, _)| *v > earliest)
                    .map(|(v, _)| value_key(&kh, *v).to_vec()),
            );
        }
        assert_eq!(all_keys(store, columns::STATE_VALUES), want);
        for key in all_keys(store, columns::STATE_STALE) {
            assert!(StaleEntry::parse(&key).unwrap().since > earliest);
        }
    }

    /// Every retained version reads back like the model, with valid proofs.
    fn check_reads(store: &Store, history: &[Changes], roots: &[Hash]) {
        let head = history.len() as u64 - 1;
        let earliest = store.earliest_state_version().unwrap();
        let keys: BTreeSet<&Vec<u8>> = history.iter().flat_map(|c| c.keys()).collect();
        for v in earliest..=head {
            let model = model_at(history, v);
            let root = store.state_root(v).unwrap();
            assert_eq!(root, roots[v as usize], "root at {v}");
            for k in &keys {
                let got = store.state_get(k, v).unwrap();
                assert_eq!(got.as_ref(), model.get(*k), "key {k:?} at {v}");
                let (pv, proof) = store.state_get_with_proof(k, v).unwrap();
                assert_eq!(pv, got);
                assert!(proof.verify(root, k, got.as_deref()));
            }
        }
        for v in 0..earliest {
            assert!(matches!(
                store.state_root(v),
                Err(StorageError::Pruned { version, earliest: e }) if version == v && e == earliest
            ));
            assert!(matches!(
                store.state_get(b"block-info", v),
                Err(StorageError::Pruned { .. })
            ));
            assert!(matches!(
                store.state_get_with_proof(b"k1", v),
                Err(StorageError::Pruned { .. })
            ));
        }
    }

    fn run(store: &Store, history: &mut Vec<Changes>, roots: &mut Vec<Hash>, to: u64) {
        for v in history.len() as u64..=to {
            let c = workload(v);
            let (block, _) = commit_height(store, v, 1, &c);
            history.push(c);
            roots.push(block.header.state_root);
        }
    }

    #[test]
    fn pruning_with_window_two() {
        let dir = tempfile::tempdir().unwrap();
        let (mut history, mut roots) = (Vec::new(), Vec::new());
        let nodes_at_10;
        {
            let store = open(dir.path(), 2);
            run(&store, &mut history, &mut roots, 10);
            assert_eq!(store.earliest_state_version().unwrap(), 9);
            assert_eq!(store.state_root(9).unwrap(), roots[9]);
            assert_eq!(store.state_root(10).unwrap(), roots[10]);
            check_reads(&store, &history, &roots);
            check_disk(&store, &history);
            nodes_at_10 = store.count_keys(columns::STATE_NODES);
            // Blocks are never pruned.
            assert!(store.block(0).unwrap().is_some());
        }
        // Everything survives a reopen, and pruning goes on.
        let store = open(dir.path(), 2);
        assert_eq!(store.head().unwrap().map(|h| h.0), Some(10));
        check_reads(&store, &history, &roots);
        run(&store, &mut history, &mut roots, 40);
        // Reads and pruning also work from SST files, not just the memtable.
        store.flush_all();
        check_reads(&store, &history, &roots);
        run(&store, &mut history, &mut roots, 80);
        check_reads(&store, &history, &roots);
        check_disk(&store, &history);
        let nodes_at_80 = store.count_keys(columns::STATE_NODES);
        assert!(
            nodes_at_80 <= nodes_at_10 * 2,
            "{nodes_at_10} -> {nodes_at_80}"
        );
        assert!(store.count_keys(columns::STATE_VALUES) <= 2 * 31 + 10);
    }

    #[test]
    fn pruning_with_window_one_keeps_only_head() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1);
        let (mut history, mut roots) = (Vec::new(), Vec::new());
        run(&store, &mut history, &mut roots, 12);
        assert_eq!(store.earliest_state_version().unwrap(), 12);
        check_reads(&store, &history, &roots);
        check_disk(&store, &history);
    }

    #[test]
    fn window_changes_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut history, mut roots) = (Vec::new(), Vec::new());
        {
            let store = open(dir.path(), 0);
            run(&store, &mut history, &mut roots, 6);
            assert_eq!(store.earliest_state_version().unwrap(), 0);
            check_reads(&store, &history, &roots);
            check_disk(&store, &history);
        }
        {
            let store = open(dir.path(), 3);
            run(&store, &mut history, &mut roots, 7);
            assert_eq!(store.earliest_state_version().unwrap(), 5);
            check_reads(&store, &history, &roots);
            check_disk(&store, &history);
        }
        // A wider window cannot bring pruned versions back.
        let store = open(dir.path(), 0);
        run(&store, &mut history, &mut roots, 9);
        assert_eq!(store.earliest_state_version().unwrap(), 5);
        check_reads(&store, &history, &roots);
        check_disk(&store, &history);
    }

    #[test]
    fn updates_that_change_nothing_are_pruned_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 2);
        let set = |k: &str| Changes::from([(k.as_bytes().to_vec(), Some(b"v".to_vec()))]);
        let del = |k: &str| Changes::from([(k.as_bytes().to_vec(), None)]);
        let history = vec![
            set("a"),
            del("zz"),
            del("zz"),
            set("b"),
            del("yy"),
            del("a"),
            set("c"),
        ];
        let mut roots = Vec::new();
        for (v, c) in history.iter().enumerate() {
            roots.push(commit_height(&store, v as u64, 0, c).0.header.state_root);
        }
        assert_eq!(roots[0], roots[2]);
        check_reads(&store, &history, &roots);
        check_disk(&store, &history);
    }

    #[test]
    fn commit_checks_order_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        let c = workload(0);
        let (root, update) = store.prepare_state(&c, 0).unwrap();
        let (block, receipts) = make_block(&store, 1, 0, root);
        assert!(matches!(
            store.commit_block(&block, &receipts, update.clone()),
            Err(StorageError::UpdateVersionMismatch {
                update: 0,
                height: 1
            })
        ));
        commit_update(&store, 0, 0, root, update.clone());
        let (block, receipts) = make_block(&store, 0, 0, root);
        assert!(matches!(
            store.commit_block(&block, &receipts, update),
            Err(StorageError::NonSequentialCommit {
                expected: 1,
                got: 0
            })
        ));
        let (root2, update2) = store.prepare_state(&workload(1), 1).unwrap();
        let (block2, _) = make_block(&store, 1, 3, root2);
        // Receipts are stored as given.
        store.commit_block(&block2, &[], update2).unwrap();
        assert_eq!(store.receipts(1).unwrap(), Some(vec![]));
        assert_eq!(store.head().unwrap(), Some((1, block2.hash())));
    }

    #[test]
    fn corrupt_stale_entry_fails_the_commit_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 1);
        commit_height(&store, 0, 0, &workload(0));
        store
            .raw_put(columns::STATE_STALE, &[0, 0, 0, 0, 0, 0, 0, 1, 9], &[])
            .unwrap();
        let (root, update) = store.prepare_state(&workload(1), 1).unwrap();
        let (block, receipts) = make_block(&store, 1, 0, root);
        assert!(matches!(
            store.commit_block(&block, &receipts, update),
            Err(StorageError::Corrupt {
                what: "state_stale",
                ..
            })
        ));
        assert_eq!(store.head().unwrap().map(|h| h.0), Some(0));
    }

    fn arb_history() -> impl Strategy<Value = Vec<Changes>> {
        let key = (0u8..24).prop_map(|k| vec![k]);
        let value = prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..6));
        prop::collection::vec(
            prop::collection::btree_map(key, value, 1..8).prop_map(|m| m.into_iter().collect()),
            1..14,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn rocksdb_roots_match_replay_and_model(history in arb_history(), window in 0u64..4) {
            let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let a = open(dir_a.path(), window);
            let mut roots = Vec::new();
            for (v, c) in history.iter().enumerate() {
                let (block, _) = commit_height(&a, v as u64, 0, c);
                roots.push(block.header.state_root);
                // The latest state always matches the model.
                let model = model_at(&history, v as u64);
                for k in 0u8..24 {
                    let got = a.state_get(&[k], v as u64).unwrap();
                    prop_assert_eq!(got.as_ref(), model.get(&vec![k]));
                }
            }
            check_reads(&a, &history, &roots);
            check_disk(&a, &history);
            // A fresh replay into another store (never pruned) gives the same roots.
            let b = open(dir_b.path(), 0);
            for (v, c) in history.iter().enumerate() {
                let (root, update) = b.prepare_state(c, v as u64).unwrap();
                prop_assert_eq!(root, roots[v]);
                commit_update(&b, v as u64, 0, root, update);
            }
            check_reads(&b, &history, &roots);
            check_disk(&b, &history);
        }
    }
}

/// Key/value pairs encoded back to back in one buffer, so a block's tens of
/// thousands of records cost no allocation each, and put into a write batch
/// in key order, which RocksDB inserts into its memtable faster. (Only the
/// order within the batch changes, never what it writes: the keys of one
/// run are distinct.)
#[derive(Default)]
struct Run {
    buf: Vec<u8>,
    /// (start, end of key, end of value) in `buf`.
    items: Vec<(usize, usize, usize)>,
}

impl Run {
    /// Appends a pair whose key and value the two closures write.
    fn push(
        &mut self,
        key: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
        value: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> Result<(), StorageError> {
        let start = self.buf.len();
        key(&mut self.buf)?;
        let key_end = self.buf.len();
        value(&mut self.buf)?;
        self.items.push((start, key_end, self.buf.len()));
        Ok(())
    }

    /// Orders the pairs by key.
    fn sort(&mut self) {
        let buf = &self.buf;
        self.items
            .sort_unstable_by(|a, b| buf[a.0..a.1].cmp(&buf[b.0..b.1]));
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let buf = &self.buf;
        self.items
            .iter()
            .map(move |&(start, key_end, end)| (&buf[start..key_end], &buf[key_end..end]))
    }

    /// Sorts, then puts every pair into `cf`.
    fn put_sorted(mut self, wb: &mut WriteBatch, cf: &rocksdb::ColumnFamily) {
        self.sort();
        for (key, value) in self.iter() {
            wb.put_cf(cf, key, value);
        }
    }
}
