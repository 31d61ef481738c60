//! Rolling the chain back: [`Store::rollback_to`] undoes every block above a
//! height, so the node can switch to another fork and commit other blocks at
//! the following heights.
//!
//! What a block at height `v` wrote, and so what undoing it deletes:
//! - its header, body and receipts, its hash in the hash index and its
//!   transactions in the transaction index;
//! - the JMT nodes created at version `v`: exactly the nodes reachable from
//!   the root of `v` through children whose version is `v` (a node is never
//!   younger than its parent, and a node made at `v` and replaced within `v`
//!   is never written);
//! - the state values written at `v`: the key of every leaf of version `v`
//!   (a new or changed value), and every key named by a `state_stale` entry
//!   of `v` (a superseded value or a tombstone written at `v`);
//! - the `state_stale` entries of `v`. The nodes and values they name were
//!   superseded at `v`, so they are live again once `v` is gone: they stay.
//!
//! Why it is safe:
//! - everything, including the head pointer moving to the target, is one
//!   RocksDB write batch, so a crash (even `kill -9`) leaves either the old
//!   chain or the rolled-back one, never a mix;
//! - the target is never below the oldest retained state version. Pruning
//!   only deletes what the stale entries of versions up to that mark name,
//!   so the entries of every version above the target, and every node and
//!   value the target's state needs, are still on disk;
//! - the commit lock is held throughout, so no block is committed meanwhile.
//!
//! Caller meta values (`meta_put`) are not versioned and are left as they are.

use crate::Version;
use crate::columns;
use crate::error::StorageError;
use crate::jmt_store::StateReader;
use crate::keys::{self, StaleEntry, StaleTarget, encode_head, height_key, value_key};
use crate::store::Store;
use jmt::storage::{NibblePath, Node, NodeKey};
use rocksdb::{ReadOptions, WriteBatch};
use std::collections::BTreeSet;
use umbra_types::{Transaction, encode};

/// Nibbles in a full key path: a node this deep is a leaf, never internal.
const MAX_NIBBLES: usize = 64;

/// What [`Store::rollback_to`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollbackReport {
    /// The head height before the rollback.
    pub from: u64,
    /// The head height after it.
    pub to: u64,
    /// Blocks removed (`from - to`).
    pub blocks: usize,
    /// JMT nodes deleted.
    pub nodes: usize,
    /// State value versions deleted (values and tombstones).
    pub values: usize,
}

impl Store {
    /// Removes every block above `target` with its receipts, index entries and
    /// state versions, and moves the head to the block at `target`. The next
    /// block to commit is then `target + 1`.
    ///
    /// All of it is one atomic write. `target` must not be below
    /// [`Store::earliest_state_version`] ([`StorageError::RollbackTooDeep`]);
    /// a `target` at or above the head changes nothing. Errors on an empty
    /// store ([`StorageError::MissingVersion`]).
    pub fn rollback_to(&self, target: u64) -> Result<RollbackReport, StorageError> {
        let _guard = self.commit_lock.lock();
        let Some((head, _)) = self.head()? else {
            return Err(StorageError::MissingVersion {
                version: target,
                latest: None,
            });
        };
        let mut report = RollbackReport {
            from: head,
            to: head,
            blocks: 0,
            nodes: 0,
            values: 0,
        };
        if target >= head {
            return Ok(report);
        }
        let earliest = self.earliest_state_version()?;
        if target < earliest {
            return Err(StorageError::RollbackTooDeep { target, earliest });
        }
        let target_hash = self
            .header(target)?
            .ok_or_else(|| {
                let detail = format!("no header at rollback target height {target}");
                StorageError::corrupt(columns::HEADERS, detail)
            })?
            .hash();

        let mut wb = WriteBatch::default();
        // Candidate `state_values` keys; some do not exist (see `delete_values`).
        let mut values = BTreeSet::new();
        let reader = StateReader::new(self);
        for v in target + 1..=head {
            self.delete_block(&mut wb, v)?;
            report.nodes += self.delete_nodes(&mut wb, &reader, v, &mut values)?;
        }
        self.delete_stale(&mut wb, target, head, &mut values)?;
        report.values = self.delete_values(&mut wb, &values)?;
        wb.put_cf(
            self.cf(columns::META)?,
            keys::META_HEAD,
            encode_head(target, &target_hash),
        );
        if let Err(e) = self.db.write_opt(wb, &self.write_options()) {
            self.forget_cached();
            return Err(e.into());
        }
        // The head cache held the newest writes up to the old head, and the
        // node cache nodes of the undone versions: start over.
        self.head_cache.reset(Some(target), earliest);
        self.node_cache.reset();

        report.to = target;
        report.blocks = usize::try_from(head - target)
            .map_err(|_| StorageError::Unsupported("rollback of more than usize::MAX blocks"))?;
        tracing::info!(
            from = head,
            to = target,
            %target_hash,
            nodes = report.nodes,
            values = report.values,
            "rolled back"
        );
        Ok(report)
    }

    /// Deletes the header, body, receipts and index entries of the block at `height`.
    fn delete_block(&self, wb: &mut WriteBatch, height: u64) -> Result<(), StorageError> {
        let hk = height_key(height);
        let header = self.header(height)?.ok_or_else(|| {
            StorageError::corrupt(columns::HEADERS, format!("no header at height {height}"))
        })?;
        if header.height != height {
            let detail = format!("header stored at {height} says height {}", header.height);
            return Err(StorageError::corrupt(columns::HEADERS, detail));
        }
        let body = self
            .db
            .get_cf(self.cf(columns::BODIES)?, hk)?
            .ok_or_else(|| {
                StorageError::corrupt(columns::BODIES, format!("no body at height {height}"))
            })?;
        let transactions: Vec<Transaction> =
            keys::decode(&body, keys::MAX_BODY_BYTES, columns::BODIES)?;
        wb.delete_cf(self.cf(columns::HEADERS)?, hk);
        wb.delete_cf(self.cf(columns::BODIES)?, hk);
        wb.delete_cf(self.cf(columns::RECEIPTS)?, hk);
        wb.delete_cf(self.cf(columns::HASH_INDEX)?, header.hash().0);
        let tx_index = self.cf(columns::TX_INDEX)?;
        for tx in &transactions {
            wb.delete_cf(tx_index, tx.hash().0);
        }
        Ok(())
    }

    /// Deletes the JMT nodes created at `version` and adds the value key of
    /// each of its leaves to `values`. Returns how many nodes it deletes.
    fn delete_nodes(
        &self,
        wb: &mut WriteBatch,
        reader: &StateReader<'_>,
        version: Version,
        values: &mut BTreeSet<[u8; 40]>,
    ) -> Result<usize, StorageError> {
        let nodes_cf = self.cf(columns::STATE_NODES)?;
        let root_path: NibblePath = std::iter::empty().collect();
        let mut todo = vec![NodeKey::new(version, root_path)];
        let mut deleted = 0;
        while let Some(key) = todo.pop() {
            let node = reader.node(&key)?.ok_or_else(|| {
                let detail = format!("version {version} has no node at {key:?}");
                StorageError::corrupt(columns::STATE_NODES, detail)
            })?;
            wb.delete_cf(nodes_cf, encode(&key));
            deleted += 1;
            match node {
                Node::Null => {}
                // A leaf of this version: its key was written now, or the
                // leaf moved (then there is no value at this version).
                Node::Leaf(leaf) => {
                    values.insert(value_key(&leaf.key_hash(), version));
                }
                Node::Internal(internal) => {
                    let path = key.nibble_path();
                    if path.num_nibbles() >= MAX_NIBBLES {
                        let detail = format!("internal node below a full path: {key:?}");
                        return Err(StorageError::corrupt(columns::STATE_NODES, detail));
                    }
                    for (nibble, child) in internal.children_sorted() {
                        if child.version == version {
                            let child_path = path.nibbles().chain(std::iter::once(nibble));
                            todo.push(NodeKey::new(version, child_path.collect()));
                        }
                    }
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes the `state_stale` entries of versions `after + 1 ..= head`, and
    /// adds to `values` the value key each entry's key hash has at the entry's
    /// version: a superseding write or a tombstone made at that version.
    fn delete_stale(
        &self,
        wb: &mut WriteBatch,
        after: Version,
        head: Version,
        values: &mut BTreeSet<[u8; 40]>,
    ) -> Result<(), StorageError> {
        let stale_cf = self.cf(columns::STATE_STALE)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(after.saturating_add(1).to_be_bytes().to_vec());
        if let Some(end) = head.checked_add(1) {
            ro.set_iterate_upper_bound(end.to_be_bytes().to_vec());
        }
        let mut it = self.db.raw_iterator_cf_opt(stale_cf, ro);
        it.seek_to_first();
        while let Some(key) = it.key() {
            let entry = StaleEntry::parse(key)?;
            if let StaleTarget::Value(target) = &entry.target {
                let (key_hash, _) = keys::split_value_key(target)?;
                values.insert(value_key(&key_hash, entry.since));
            }
            // A node target is older than `since`: live again, kept.
            wb.delete_cf(stale_cf, key);
            it.next();
        }
        it.status()?;
        Ok(())
    }

    /// Deletes those of `candidates` that exist; returns how many.
    fn delete_values(
        &self,
        wb: &mut WriteBatch,
        candidates: &BTreeSet<[u8; 40]>,
    ) -> Result<usize, StorageError> {
        let values_cf = self.cf(columns::STATE_VALUES)?;
        let mut deleted = 0;
        for key in candidates {
            if self.db.get_pinned_cf(values_cf, key)?.is_some() {
                wb.delete_cf(values_cf, key);
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Changes, Snapshot, commit_height, model_at, open, snapshot};
    use proptest::prelude::*;
    use umbra_types::{Block, Hash};

    /// Sets, overwrites, deletes and re-creates keys; deletes a key that never
    /// exists; every 7th block changes nothing (jmt then copies the previous
    /// root to the new version).
    fn workload(v: u64) -> Changes {
        let mut c = Changes::new();
        if v % 7 == 6 {
            c.insert(b"never".to_vec(), None);
            return c;
        }
        c.insert(b"block-info".to_vec(), Some(v.to_be_bytes().to_vec()));
        if v.is_multiple_of(2) {
            c.insert(format!("k{}", (v * 3) % 20).into_bytes(), None);
        }
        for i in 0..4 {
            c.insert(
                format!("k{}", (v * 7 + i) % 20).into_bytes(),
                Some(format!("{v}-{i}").into()),
            );
        }
        if v % 5 == 4 {
            c.insert(b"never".to_vec(), None);
        }
        c
    }

    /// Another fork: other keys and values, so other roots and blocks.
    fn fork_workload(v: u64) -> Changes {
        let mut c = Changes::new();
        c.insert(format!("k{}", (v * 5) % 20).into_bytes(), None);
        c.insert(
            format!("fork{}", v % 3).into_bytes(),
            Some(vec![v as u8; 3]),
        );
        c.insert(b"k1".to_vec(), Some(format!("fork-{v}").into()));
        c
    }

    /// `snap` as pruning up to `earliest` leaves it: the stale entries of
    /// versions up to `earliest` and what they name are gone, and the mark is set.
    fn pruned(snap: &Snapshot, earliest: u64) -> Snapshot {
        let mut out = snap.clone();
        for key in snap[columns::STATE_STALE].keys() {
            let entry = StaleEntry::parse(key).unwrap();
            if entry.since <= earliest {
                let (cf, target) = entry.target();
                out.get_mut(cf).unwrap().remove(target);
                out.get_mut(columns::STATE_STALE).unwrap().remove(key);
            }
        }
        if earliest > 0 {
            out.get_mut(columns::META).unwrap().insert(
                keys::META_EARLIEST_STATE.as_bytes().to_vec(),
                earliest.to_be_bytes().to_vec(),
            );
        }
        out
    }

    /// Commits `history[from..]`; returns the blocks and the snapshot after each.
    fn commit_from(
        store: &Store,
        history: &[Changes],
        from: usize,
        ntx: usize,
    ) -> Vec<(Block, Snapshot)> {
        (from..history.len())
            .map(|v| {
                let (block, _) = commit_height(store, v as u64, ntx, &history[v]);
                (block, snapshot(store))
            })
            .collect()
    }

    /// State nodes reachable from the roots of `from..=to`, as `state_nodes` keys.
    fn reachable_nodes(store: &Store, from: u64, to: u64) -> BTreeSet<Vec<u8>> {
        let reader = StateReader::new(store);
        let mut out = BTreeSet::new();
        let mut todo: Vec<NodeKey> = (from..=to)
            .map(|v| NodeKey::new(v, std::iter::empty().collect()))
            .collect();
        while let Some(key) = todo.pop() {
            if !out.insert(encode(&key)) {
                continue;
            }
            if let Node::Internal(internal) = reader.node(&key).unwrap().unwrap() {
                for (nibble, child) in internal.children_sorted() {
                    let path = key.nibble_path().nibbles().chain(std::iter::once(nibble));
                    todo.push(NodeKey::new(child.version, path.collect()));
                }
            }
        }
        out
    }

    /// The store holds `history` (its last entry at the head): the head, the
    /// blocks, reads with proofs and roots at every retained version, nothing
    /// above the head, and no state node that no retained root reaches.
    fn check_state(store: &Store, history: &[Changes], roots: &[Hash]) {
        let head = history.len() as u64 - 1;
        let earliest = store.earliest_state_version().unwrap();
        let head_hash = store.header(head).unwrap().unwrap().hash();
        assert_eq!(store.head().unwrap(), Some((head, head_hash)));
        assert_eq!(store.block(head + 1).unwrap(), None);
        let keys: BTreeSet<Vec<u8>> = history
            .iter()
            .flat_map(|c| c.keys().cloned())
            .chain([b"block-info".to_vec(), b"k1".to_vec(), b"fork0".to_vec()])
            .collect();
        for v in earliest..=head {
            let model = model_at(history, v);
            let root = store.state_root(v).unwrap();
            assert_eq!(root, roots[v as usize], "root at {v}");
            assert_eq!(store.header(v).unwrap().unwrap().state_root, root);
            for k in &keys {
                let (got, proof) = store.state_get_with_proof(k, v).unwrap();
                assert_eq!(got.as_ref(), model.get(k), "key {k:?} at {v}");
                assert_eq!(store.state_get(k, v).unwrap(), got);
                assert!(proof.verify(root, k, got.as_deref()));
            }
        }
        assert!(matches!(
            store.state_root(head + 1),
            Err(StorageError::MissingVersion { latest: Some(h), .. }) if h == head
        ));
        let on_disk: BTreeSet<Vec<u8>> = snapshot(store)[columns::STATE_NODES]
            .keys()
            .cloned()
            .collect();
        assert_eq!(on_disk, reachable_nodes(store, earliest, head));
        for key in snapshot(store)[columns::STATE_VALUES].keys() {
            assert!(keys::split_value_key(key).unwrap().1 <= head);
        }
        for key in snapshot(store)[columns::STATE_STALE].keys() {
            let since = StaleEntry::parse(key).unwrap().since;
            assert!(since > earliest && since <= head, "stale entry of {since}");
        }
    }

    fn roots_of(blocks: &[(Block, Snapshot)]) -> Vec<Hash> {
        blocks.iter().map(|(b, _)| b.header.state_root).collect()
    }

    /// Without pruning, rolling back to `r` leaves every column family exactly
    /// as it was right after `r` was committed: nothing left behind, nothing
    /// live deleted. Committing the same blocks again gives the same bytes.
    #[test]
    fn rollback_restores_every_column_family_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let n = 24u64;
        let history: Vec<Changes> = (0..=n).map(workload).collect();
        let mut store = open(dir.path(), 0);
        let blocks = commit_from(&store, &history, 0, 2);
        let roots = roots_of(&blocks);
        let full = &blocks[n as usize].1;
        for r in [n - 1, 0, 13, 5, 6, 20] {
            let report = store.rollback_to(r).unwrap();
            let at_r = &blocks[r as usize].1;
            assert_eq!(
                report,
                RollbackReport {
                    from: n,
                    to: r,
                    blocks: (n - r) as usize,
                    nodes: full[columns::STATE_NODES].len() - at_r[columns::STATE_NODES].len(),
                    values: full[columns::STATE_VALUES].len() - at_r[columns::STATE_VALUES].len(),
                }
            );
            assert_eq!(&snapshot(&store), at_r, "rollback to {r}");
            check_state(&store, &history[..=r as usize], &roots);
            // The removed blocks are gone from the indexes too.
            let (gone, _) = &blocks[r as usize + 1];
            assert_eq!(store.height_of(&gone.hash()).unwrap(), None);
            for tx in &gone.transactions {
                assert_eq!(store.tx_location(&tx.hash()).unwrap(), None);
            }
            if r == 13 {
                // The rollback is durable.
                drop(store);
                store = open(dir.path(), 0);
                assert_eq!(&snapshot(&store), at_r);
            }
            let again = commit_from(&store, &history, r as usize + 1, 2);
            for ((b, snap), (b0, snap0)) in again.iter().zip(&blocks[r as usize + 1..]) {
                assert_eq!(b, b0);
                assert_eq!(snap, snap0);
            }
        }
        // Rolling back in steps is the same as in one go.
        store.rollback_to(17).unwrap();
        store.rollback_to(9).unwrap();
        assert_eq!(&snapshot(&store), &blocks[9].1);
    }

    /// A tree whose root is a single leaf, updates that change nothing (jmt
    /// copies the root, leaf included, to the new version although no value
    /// is written there), tombstones of absent keys, deleting everything.
    #[test]
    fn rollback_of_copied_roots_and_empty_trees() {
        let dir = tempfile::tempdir().unwrap();
        let set = |k: &str, v: &str| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()));
        let del = |k: &str| (k.as_bytes().to_vec(), None);
        let history: Vec<Changes> = vec![
            Changes::from([set("a", "1")]),
            Changes::from([del("zz")]),
            Changes::from([set("a", "1")]),
            Changes::from([set("b", "2")]),
            Changes::from([del("a")]),
            Changes::from([del("b")]),
            Changes::from([del("b")]),
            Changes::from([set("b", "3"), set("a", "4")]),
            Changes::from([del("b"), del("yy")]),
        ];
        let store = open(dir.path(), 0);
        let blocks = commit_from(&store, &history, 0, 0);
        let roots = roots_of(&blocks);
        assert_eq!(roots[0], roots[1]);
        assert_eq!(roots[5], crate::EMPTY_STATE_ROOT);
        let head = history.len() - 1;
        for r in (0..head).rev() {
            store.rollback_to(r as u64).unwrap();
            assert_eq!(snapshot(&store), blocks[r].1, "rollback to {r}");
            check_state(&store, &history[..=r], &roots);
            commit_from(&store, &history, r + 1, 0);
            assert_eq!(snapshot(&store), blocks[head].1);
        }
    }

    /// With pruning, rolling back to `r` leaves exactly the snapshot at `r`
    /// minus what pruning removed since, and the retained state reads right.
    #[test]
    fn rollback_with_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let n = 20u64;
        let history: Vec<Changes> = (0..=n).map(workload).collect();
        let store = open(dir.path(), 4);
        let mut blocks = commit_from(&store, &history, 0, 1);
        let roots = roots_of(&blocks);
        let earliest = store.earliest_state_version().unwrap();
        assert_eq!(earliest, n - 3);
        for r in [n - 1, earliest, n - 2] {
            let report = store.rollback_to(r).unwrap();
            assert_eq!((report.from, report.to), (n, r));
            assert_eq!(store.earliest_state_version().unwrap(), earliest);
            assert_eq!(snapshot(&store), pruned(&blocks[r as usize].1, earliest));
            check_state(&store, &history[..=r as usize], &roots);
            for v in earliest..=r {
                let model = model_at(&history, v);
                for k in (0..20).map(|i| format!("k{i}").into_bytes()) {
                    assert_eq!(store.state_get(&k, v).unwrap().as_ref(), model.get(&k));
                }
                assert_eq!(store.state_root(v).unwrap(), roots[v as usize]);
            }
            // Committing the same blocks again gives the same bytes as the
            // first time, less what pruning had already removed, except for
            // some stale entries: a block that overwrites a key whose previous
            // version is a tombstone records that tombstone as superseded,
            // unless pruning deleted it already. The extra entries of the
            // first run name values that no longer exist.
            let again = commit_from(&store, &history, r as usize + 1, 1);
            check_state(&store, &history, &roots);
            for ((b, snap), (b0, snap0)) in again.iter().zip(&blocks[r as usize + 1..]) {
                assert_eq!(b, b0);
                let snap0 = &pruned(snap0, earliest);
                for cf in columns::ALL {
                    if cf != columns::STATE_STALE {
                        assert_eq!(snap[cf], snap0[cf], "{cf}");
                    }
                }
                for key in snap0[columns::STATE_STALE].keys() {
                    if !snap[columns::STATE_STALE].contains_key(key) {
                        let entry = StaleEntry::parse(key).unwrap();
                        assert!(matches!(entry.target, StaleTarget::Value(_)));
                        let (cf, target) = entry.target();
                        assert!(!snap[cf].contains_key(target));
                    }
                }
                assert!(
                    snap[columns::STATE_STALE]
                        .keys()
                        .all(|k| snap0[columns::STATE_STALE].contains_key(k))
                );
            }
            blocks.splice(r as usize + 1.., again);
        }
    }

    /// After a rollback, another fork commits on top and reads exactly like a
    /// fresh store that committed the same chain directly.
    #[test]
    fn another_fork_after_rollback_matches_a_direct_replay() {
        for window in [0, 4] {
            let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let a = open(dir_a.path(), window);
            let main: Vec<Changes> = (0..=20).map(workload).collect();
            commit_from(&a, &main, 0, 1);
            let r = a.earliest_state_version().unwrap().max(11);
            let mut chain: Vec<Changes> = main[..=r as usize].to_vec();
            chain.extend((r + 1..=25).map(fork_workload));
            a.rollback_to(r).unwrap();
            let a_blocks = commit_from(&a, &chain, r as usize + 1, 3);

            let b = open(dir_b.path(), 0);
            let mut b_blocks = commit_from(&b, &chain[..=r as usize], 0, 1);
            b_blocks.extend(commit_from(&b, &chain, r as usize + 1, 3));
            let roots = roots_of(&b_blocks);
            for ((block_a, _), (block_b, _)) in a_blocks.iter().zip(&b_blocks[r as usize + 1..]) {
                assert_eq!(block_a, block_b);
            }
            check_state(&a, &chain, &roots);
            check_state(&b, &chain, &roots);
            if window == 0 {
                assert_eq!(snapshot(&a), snapshot(&b));
            } else {
                assert_eq!(a.earliest_state_version().unwrap(), 25 - 3);
            }
        }
    }

    #[test]
    fn rollback_limits() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 3);
        assert!(matches!(
            store.rollback_to(0),
            Err(StorageError::MissingVersion {
                version: 0,
                latest: None
            })
        ));
        let history: Vec<Changes> = (0..=9).map(workload).collect();
        commit_from(&store, &history, 0, 1);
        assert_eq!(store.earliest_state_version().unwrap(), 7);
        let before = snapshot(&store);
        let err = store.rollback_to(6).unwrap_err();
        assert!(matches!(
            err,
            StorageError::RollbackTooDeep {
                target: 6,
                earliest: 7
            }
        ));
        assert!(err.to_string().contains("earliest retained version is 7"));
        assert!(matches!(
            store.rollback_to(0),
            Err(StorageError::RollbackTooDeep { .. })
        ));
        for target in [9, 10, u64::MAX] {
            let report = store.rollback_to(target).unwrap();
            assert_eq!(
                report,
                RollbackReport {
                    from: 9,
                    to: 9,
                    blocks: 0,
                    nodes: 0,
                    values: 0
                }
            );
        }
        assert_eq!(snapshot(&store), before);
    }

    #[test]
    fn corrupt_data_fails_the_rollback_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 0);
        let history: Vec<Changes> = (0..=5).map(workload).collect();
        let blocks = commit_from(&store, &history, 0, 1);
        let garbage = [0xffu8; 13];
        let cases: [(&'static str, Vec<u8>, &str); 5] = [
            (columns::HEADERS, height_key(4).to_vec(), "headers"),
            (columns::HEADERS, height_key(2).to_vec(), "headers"),
            (columns::BODIES, height_key(5).to_vec(), "bodies"),
            (
                columns::STATE_NODES,
                encode(&NodeKey::new(3, std::iter::empty().collect())),
                "state_nodes",
            ),
            (
                columns::STATE_STALE,
                vec![0, 0, 0, 0, 0, 0, 0, 4, 9],
                "state_stale",
            ),
        ];
        for (cf, key, what) in cases {
            let good = snapshot(&store)[cf].get(&key).cloned();
            store.raw_put(cf, &key, &garbage).unwrap();
            let before = snapshot(&store);
            match store.rollback_to(2) {
                Err(StorageError::Corrupt { what: w, .. }) => assert_eq!(w, what),
                other => panic!("{cf}: {other:?}"),
            }
            assert_eq!(snapshot(&store), before, "{cf}: nothing written");
            match good {
                Some(good) => store.raw_put(cf, &key, &good).unwrap(),
                None => store.raw_delete(cf, &key).unwrap(),
            }
        }
        assert_eq!(snapshot(&store), blocks[5].1);
        // A missing header or root is corrupt too.
        let root4 = encode(&NodeKey::new(4, std::iter::empty().collect()));
        store.raw_delete(columns::STATE_NODES, &root4).unwrap();
        assert!(matches!(
            store.rollback_to(1),
            Err(StorageError::Corrupt {
                what: "state_nodes",
                ..
            })
        ));
        store.raw_delete(columns::HEADERS, &height_key(3)).unwrap();
        assert!(matches!(
            store.rollback_to(1),
            Err(StorageError::Corrupt {
                what: "headers",
                ..
            })
        ));
        assert_eq!(store.head().unwrap().map(|h| h.0), Some(5));
    }

    fn arb_history(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Changes>> {
        let key = (0u8..12).prop_map(|k| vec![k]);
        let value = prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..4));
        prop::collection::vec(
            prop::collection::btree_map(key, value, 1..6).prop_map(|m| m.into_iter().collect()),
            len,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn random_rollbacks_match_the_model(
            history in arb_history(1..14),
            fork in arb_history(0..6),
            window in 0u64..5,
            pick in any::<prop::sample::Index>(),
        ) {
            let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let a = open(dir_a.path(), window);
            let blocks = commit_from(&a, &history, 0, 1);
            let head = history.len() as u64 - 1;
            let earliest = a.earliest_state_version().unwrap();
            let r = earliest + pick.index((head - earliest + 1) as usize) as u64;
            let report = a.rollback_to(r).unwrap();
            prop_assert_eq!((report.from, report.to, report.blocks), (head, r, (head - r) as usize));
            let roots = roots_of(&blocks);
            check_state(&a, &history[..=r as usize], &roots);
            prop_assert_eq!(snapshot(&a), pruned(&blocks[r as usize].1, earliest));
            for v in earliest..=r {
                let model = model_at(&history, v);
                for k in 0u8..12 {
                    let got = a.state_get(&[k], v).unwrap();
                    prop_assert_eq!(got.as_ref(), model.get(&vec![k]));
                }
            }
            // Another fork on top reads like a direct replay of the same chain.
            let mut chain = history[..=r as usize].to_vec();
            chain.extend(fork);
            commit_from(&a, &chain, r as usize + 1, 2);
            let b = open(dir_b.path(), 0);
            let mut b_blocks = commit_from(&b, &chain[..=r as usize], 0, 1);
            b_blocks.extend(commit_from(&b, &chain, r as usize + 1, 2));
            check_state(&a, &chain, &roots_of(&b_blocks));
            if window == 0 {
                prop_assert_eq!(snapshot(&a), snapshot(&b));
            }
        }
    }
}
