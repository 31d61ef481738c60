//! The head-state cache: for recently read or written state keys, the
//! version of the key's newest write at or below the head and the value it
//! wrote, so reads at the head (block execution, RPC) and the commit's
//! search for each written key's previous value version (for pruning) need
//! no RocksDB seek.
//!
//! It is only a cache. RocksDB stays the truth: nothing is written from here,
//! a miss reads the disk exactly as before, and after a restart the cache
//! starts empty.
//!
//! What an entry means. The cache describes one committed head `H` (and the
//! oldest retained version `E` at that head). An entry for key hash `k` says
//! "the newest write of `k` at or below `H` is at version `u` and wrote the
//! value `x`" (a [`Latest::Value`]), or "`k` has no entry on disk at or below
//! `H`" ([`Latest::Absent`]). Deletion tombstones are never cached: a key
//! whose newest write is a tombstone is simply not in the cache. So:
//! - a read of `k` at `v` with `E <= v <= H` is answered by a `Value` entry
//!   when `u <= v` (no write in `u+1..=H`, so none in `u+1..=v`) and by an
//!   `Absent` entry always; anything else goes to disk;
//! - the previous value version the commit of `H + 1` needs for `k` is `u`
//!   (a value that is the newest write is never pruned: only superseded
//!   values and tombstones are) or none (`Absent`: nothing on disk).
//!
//! How it stays exact:
//! - the commit of `H + 1` updates the cache after its atomic write has
//!   succeeded, under the store's commit lock: each written value replaces
//!   its key's entry, each tombstone removes it, and the head moves to
//!   `H + 1`. A failed write clears the cache;
//! - a rollback clears the cache and moves its head to the target;
//! - a read fills the cache only when it read at its snapshot's head, that
//!   head is the cache's head, and no commit or rollback finished updating
//!   the cache since before the snapshot was taken (an epoch counter). A
//!   snapshot taken after a commit's write but before its cache update sees
//!   another head than the cache and is not used to fill;
//! - between a commit's write and its cache update a hit answers as of the
//!   previous head, which is where that read is ordered: the commit has not
//!   returned yet.
//!
//! Bounds: at most `max_entries` entries and `max_bytes` bytes (an estimate
//! of each entry's size plus its value's). Values larger than
//! [`MAX_CACHED_VALUE`] are not cached. When a commit's writes would not
//! fit, the whole cache is dropped first and the block's writes (the likeliest
//! next reads) are kept; a read that finds the cache full does not fill it.

use crate::Version;
use jmt::KeyHash;
use jmt::storage::TreeUpdateBatch;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default bound on entries (≈ 20 MiB for account-sized values).
pub const DEFAULT_MAX_ENTRIES: usize = 1 << 17;
/// Default bound on bytes (entry overhead estimate plus values).
pub const DEFAULT_MAX_BYTES: usize = 48 << 20;
/// Values larger than this are not cached.
pub const MAX_CACHED_VALUE: usize = 4096;
/// What an entry costs besides its value: key hash, version, the `Vec`, the
/// hash table's slot and control bytes, rounded up.
const ENTRY_OVERHEAD: usize = 96;

/// The newest write of a key at or below the cache's head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Latest {
    /// Nothing on disk for this key at or below the head.
    Absent,
    /// The newest write is this value, at this version.
    Value(Version, Vec<u8>),
}

impl Latest {
    fn cost(&self) -> usize {
        ENTRY_OVERHEAD
            + match self {
                Latest::Absent => 0,
                Latest::Value(_, v) => v.len(),
            }
    }
}

/// A cache lookup's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hit {
    /// The value at the asked version (`None`: absent).
    Value(Option<Vec<u8>>),
    /// Not answerable from the cache.
    Miss,
}

/// Where the epoch stood before a read took its snapshot; a fill carries it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FillTicket(u64);

#[derive(Debug)]
struct Inner {
    /// The head the entries describe; `None`: unknown, nothing is answered.
    head: Option<Version>,
    /// The oldest retained version at `head`.
    earliest: Version,
    /// Bumped by every commit and rollback that updates the cache.
    epoch: u64,
    map: HashMap<KeyHash, Latest>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Inner {
    fn clear(&mut self) {
        self.map = HashMap::new();
        self.bytes = 0;
    }

    fn fits(&self, cost: usize) -> bool {
        self.map.len() < self.max_entries && self.bytes + cost <= self.max_bytes
    }

    fn remove(&mut self, kh: &KeyHash) {
        if let Some(old) = self.map.remove(kh) {
            self.bytes -= old.cost();
        }
    }

    /// Inserts (replacing) if it fits; otherwise only removes the old entry.
    fn put(&mut self, kh: KeyHash, latest: Latest) {
        if let Latest::Value(_, v) = &latest
            && v.len() > MAX_CACHED_VALUE
        {
            self.remove(&kh);
            return;
        }
        self.bytes += latest.cost();
        if let Some(old) = self.map.insert(kh, latest) {
            self.bytes -= old.cost();
        }
        if self.map.len() > self.max_entries || self.bytes > self.max_bytes {
            self.remove(&kh);
        }
    }
}

/// The cache itself; see the module documentation.
#[derive(Debug)]
pub(crate) struct HeadCache {
    inner: RwLock<Inner>,
    /// Lookups answered and not answered, for tests and diagnostics.
    hits: AtomicU64,
    misses: AtomicU64,
}

impl HeadCache {
    /// A cache describing `head` (with oldest retained version `earliest`).
    pub(crate) fn new(head: Option<Version>, earliest: Version) -> Self {
        HeadCache {
            inner: RwLock::new(Inner {
                head,
                earliest,
                epoch: 0,
                map: HashMap::new(),
                bytes: 0,
                max_entries: DEFAULT_MAX_ENTRIES,
                max_bytes: DEFAULT_MAX_BYTES,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Changes the bounds (0 entries disables the cache) and drops every entry.
    pub(crate) fn set_limits(&self, max_entries: usize, max_bytes: usize) {
        let mut c = self.inner.write();
        c.max_entries = max_entries;
        c.max_bytes = max_bytes;
        c.clear();
        c.epoch += 1;
    }

    /// The value of `kh` at `version`, if the cache can tell exactly.
    pub(crate) fn get(&self, kh: &KeyHash, version: Version) -> Hit {
        let c = self.inner.read();
        let answer = match c.head {
            Some(head) if c.earliest <= version && version <= head => match c.map.get(kh) {
                Some(Latest::Absent) => Hit::Value(None),
                Some(Latest::Value(u, v)) if *u <= version => Hit::Value(Some(v.clone())),
                _ => Hit::Miss,
            },
            _ => Hit::Miss,
        };
        drop(c);
        match answer {
            Hit::Miss => &self.misses,
            Hit::Value(_) => &self.hits,
        }
        .fetch_add(1, Ordering::Relaxed);
        answer
    }

    /// For the commit of `head + 1`: the version of `kh`'s newest write at or
    /// below `head` when the cache knows it: `Some(Some(u))` a value at `u`,
    /// `Some(None)` nothing on disk, `None` not known.
    pub(crate) fn previous_version(&self, kh: &KeyHash, head: Version) -> Option<Option<Version>> {
        let c = self.inner.read();
        if c.head != Some(head) {
            return None;
        }
        match c.map.get(kh)? {
            Latest::Absent => Some(None),
            Latest::Value(u, _) => Some(Some(*u)),
        }
    }

    /// Taken before a read's snapshot; see [`HeadCache::fill`].
    pub(crate) fn ticket(&self) -> FillTicket {
        FillTicket(self.inner.read().epoch)
    }

    /// Records what a read found at `snapshot_head`, the head of its
    /// snapshot, taken after `ticket`: `found` is the newest stored entry at
    /// or below that head (version and value, `None` value: a tombstone), or
    /// `None` if there is none. Ignored unless the cache still describes that
    /// same head with nothing committed or rolled back since the ticket.
    pub(crate) fn fill(
        &self,
        ticket: FillTicket,
        snapshot_head: Version,
        kh: KeyHash,
        found: Option<(Version, Option<&[u8]>)>,
    ) {
        let latest = match found {
            None => Latest::Absent,
            Some((u, Some(v))) if v.len() <= MAX_CACHED_VALUE => Latest::Value(u, v.to_vec()),
            // Tombstones and large values are not cached.
            Some(_) => return,
        };
        let mut c = self.inner.write();
        if c.epoch != ticket.0 || c.head != Some(snapshot_head) || c.map.contains_key(&kh) {
            return;
        }
        let cost = latest.cost();
        if c.fits(cost) {
            c.bytes += cost;
            c.map.insert(kh, latest);
        }
    }

    /// The value writes of a commit's tree update as [`HeadCache::committed`]
    /// takes them: `None` for a tombstone or a value too large to cache.
    /// Copies; runs while the commit is being written.
    pub(crate) fn stage(&self, batch: &TreeUpdateBatch) -> Vec<(KeyHash, Option<Vec<u8>>)> {
        if self.inner.read().max_entries == 0 {
            return Vec::new();
        }
        let values = batch.node_batch.values().iter();
        values
            .map(|((_, kh), value)| {
                let keep = value.as_ref().filter(|v| v.len() <= MAX_CACHED_VALUE);
                (*kh, keep.cloned())
            })
            .collect()
    }

    /// After the commit of `height` was written: its value writes (staged
    /// by [`HeadCache::stage`]; `None` drops the key) become the newest;
    /// `earliest` is the oldest retained version after it.
    pub(crate) fn committed(
        &self,
        height: Version,
        earliest: Version,
        writes: Vec<(KeyHash, Option<Vec<u8>>)>,
    ) {
        let mut c = self.inner.write();
        let n = writes.len();
        let consistent = c.head == height.checked_sub(1);
        let overflow = c.map.len().saturating_add(n) > c.max_entries
            || c.bytes.saturating_add(n.saturating_mul(ENTRY_OVERHEAD)) > c.max_bytes;
        if !consistent || overflow {
            c.clear();
        }
        for (kh, value) in writes {
            match value {
                Some(v) => c.put(kh, Latest::Value(height, v)),
                None => c.remove(&kh),
            }
        }
        c.head = Some(height);
        c.earliest = earliest;
        c.epoch += 1;
    }

    /// Drops every entry and describes `head` (with oldest retained version
    /// `earliest`) from now on: after opening, after a rollback was written,
    /// or with `None` when what is on disk is not known (a failed write).
    pub(crate) fn reset(&self, head: Option<Version>, earliest: Version) {
        let mut c = self.inner.write();
        c.clear();
        c.head = head;
        c.earliest = earliest;
        c.epoch += 1;
    }

    /// (hits, misses, entries) so far.
    pub(crate) fn stats(&self) -> (u64, u64, usize) {
        let entries = self.inner.read().map.len();
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            entries,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kh(i: u8) -> KeyHash {
        KeyHash([i; 32])
    }

    #[test]
    fn answers_only_within_what_it_knows() {
        let c = HeadCache::new(Some(4), 2);
        let t = c.ticket();
        c.fill(t, 4, kh(1), Some((3, Some(b"x"))));
        c.fill(t, 4, kh(2), None);
        c.fill(t, 4, kh(3), Some((4, None)));
        assert_eq!(c.get(&kh(1), 4), Hit::Value(Some(b"x".to_vec())));
        assert_eq!(c.get(&kh(1), 3), Hit::Value(Some(b"x".to_vec())));
        // Before the write, below the earliest version, above the head.
        assert_eq!(c.get(&kh(1), 2), Hit::Miss);
        assert_eq!(c.get(&kh(2), 1), Hit::Miss);
        assert_eq!(c.get(&kh(2), 5), Hit::Miss);
        assert_eq!(c.get(&kh(2), 2), Hit::Value(None));
        // Tombstones are not cached.
        assert_eq!(c.get(&kh(3), 4), Hit::Miss);
        assert_eq!(c.previous_version(&kh(1), 4), Some(Some(3)));
        assert_eq!(c.previous_version(&kh(2), 4), Some(None));
        assert_eq!(c.previous_version(&kh(3), 4), None);
        assert_eq!(c.previous_version(&kh(1), 3), None);
    }

    #[test]
    fn stale_fills_are_refused() {
        let c = HeadCache::new(Some(4), 0);
        let before = c.ticket();
        // A snapshot of another head than the cache's.
        c.fill(before, 5, kh(1), None);
        assert_eq!(c.get(&kh(1), 4), Hit::Miss);
        // A commit finished after the ticket.
        c.committed(5, 0, vec![(kh(9), Some(b"n".to_vec()))]);
        c.fill(before, 5, kh(1), None);
        assert_eq!(c.get(&kh(1), 5), Hit::Miss);
        // A rollback back to the same head number.
        let t = c.ticket();
        c.reset(Some(5), 0);
        c.fill(t, 5, kh(1), None);
        assert_eq!(c.get(&kh(1), 5), Hit::Miss);
        assert_eq!(c.get(&kh(9), 5), Hit::Miss);
        let t = c.ticket();
        c.fill(t, 5, kh(1), None);
        assert_eq!(c.get(&kh(1), 5), Hit::Value(None));
    }

    #[test]
    fn commits_replace_and_remove() {
        let c = HeadCache::new(Some(0), 0);
        let t = c.ticket();
        c.fill(t, 0, kh(1), Some((0, Some(b"a"))));
        c.fill(t, 0, kh(2), Some((0, Some(b"b"))));
        c.committed(1, 0, vec![(kh(1), Some(b"a1".to_vec())), (kh(2), None)]);
        assert_eq!(c.get(&kh(1), 1), Hit::Value(Some(b"a1".to_vec())));
        assert_eq!(c.get(&kh(1), 0), Hit::Miss);
        assert_eq!(c.get(&kh(2), 1), Hit::Miss);
        // A commit that does not follow the cache's head starts afresh.
        c.committed(3, 0, vec![(kh(3), Some(b"c".to_vec()))]);
        assert_eq!(c.get(&kh(1), 3), Hit::Miss);
        assert_eq!(c.get(&kh(3), 3), Hit::Value(Some(b"c".to_vec())));
    }

    #[test]
    fn bounded() {
        let c = HeadCache::new(Some(0), 0);
        c.set_limits(3, 1 << 20);
        let t = c.ticket();
        for i in 0..10 {
            c.fill(t, 0, kh(i), None);
        }
        assert_eq!(c.stats().2, 3);
        // A commit that would overflow drops the rest and keeps its writes.
        let v = Some(vec![1u8]);
        c.committed(1, 0, vec![(kh(20), v.clone()), (kh(21), v.clone())]);
        assert_eq!(c.stats().2, 2);
        assert_eq!(c.get(&kh(0), 1), Hit::Miss);
        assert_eq!(c.get(&kh(20), 1), Hit::Value(v.clone()));
        // Bytes are bounded too, and large values are never cached.
        c.set_limits(100, 2 * ENTRY_OVERHEAD + 10);
        let t = c.ticket();
        c.fill(t, 1, kh(1), Some((1, Some(&[0u8; 8]))));
        c.fill(t, 1, kh(2), Some((1, Some(&[0u8; 8]))));
        assert_eq!(c.stats().2, 1);
        c.set_limits(100, 1 << 30);
        let t = c.ticket();
        c.fill(t, 1, kh(3), Some((1, Some(&[0u8; MAX_CACHED_VALUE + 1]))));
        assert_eq!(c.get(&kh(3), 1), Hit::Miss);
        let big = Some(vec![0u8; MAX_CACHED_VALUE + 1]);
        c.committed(2, 0, vec![(kh(3), big)]);
        assert_eq!(c.get(&kh(3), 2), Hit::Miss);
        // Disabled.
        c.set_limits(0, 0);
        let t = c.ticket();
        c.fill(t, 2, kh(4), None);
        c.committed(3, 0, vec![(kh(5), v)]);
        assert_eq!(c.stats().2, 0);
    }
}

/// The caches inside a real store (this one and the node cache): every
/// answer, root, proof and byte on disk equals a store with both off,
/// through commits, pruning, rollbacks and other forks.
#[cfg(test)]
mod store_tests {
    use crate::testutil::{Changes, commit_height, model_at, open, snapshot};
    use crate::{StorageError, Store};
    use proptest::prelude::*;

    fn no_cache(path: &std::path::Path, window: u64) -> Store {
        let store = open(path, window);
        store.set_head_cache_limits(0, 0);
        store.set_node_cache_limit(0);
        store
    }

    /// Reads every key at every version (in an order that mixes head reads,
    /// which fill the cache, with older ones) from both stores and the model.
    fn check_reads(a: &Store, b: &Store, history: &[Changes], keys: u8) {
        let head = history.len() as u64 - 1;
        let earliest = b.earliest_state_version().unwrap();
        assert_eq!(a.earliest_state_version().unwrap(), earliest);
        for v in (earliest..=head).rev().chain(earliest..=head) {
            let model = model_at(history, v);
            let root = b.state_root(v).unwrap();
            assert_eq!(a.state_root(v).unwrap(), root);
            for k in 0..keys {
                let key = vec![k];
                let got = a.state_get(&key, v).unwrap();
                assert_eq!(got.as_ref(), model.get(&key), "key {k} at {v}");
                assert_eq!(b.state_get(&key, v).unwrap(), got);
                assert_eq!(a.state_at(v).get_value(&key), got);
                let (pv, proof) = a.state_get_with_proof(&key, v).unwrap();
                assert_eq!(pv, got);
                assert!(proof.verify(root, &key, got.as_deref()));
            }
        }
        for v in [head + 1, head + 7] {
            assert!(matches!(
                a.state_get(&[0], v),
                Err(StorageError::MissingVersion { .. })
            ));
        }
        if earliest > 0 {
            assert!(matches!(
                a.state_get(&[0], earliest - 1),
                Err(StorageError::Pruned { .. })
            ));
        }
    }

    trait GetValue {
        fn get_value(&self, key: &[u8]) -> Option<Vec<u8>>;
    }
    impl GetValue for crate::StateAt<'_> {
        fn get_value(&self, key: &[u8]) -> Option<Vec<u8>> {
            crate::StateView::get(self, key).unwrap()
        }
    }

    /// Before each block, reads the keys it writes at the head (as block
    /// execution does), then commits it to both stores.
    fn commit_both(a: &Store, b: &Store, history: &[Changes], from: usize) {
        for (v, c) in history.iter().enumerate().skip(from) {
            if let Some(parent) = (v as u64).checked_sub(1) {
                for k in c.keys() {
                    assert_eq!(
                        a.state_get(k, parent).unwrap(),
                        b.state_get(k, parent).unwrap()
                    );
                }
            }
            let (block_a, _) = commit_height(a, v as u64, 1, c);
            let (block_b, _) = commit_height(b, v as u64, 1, c);
            assert_eq!(block_a, block_b);
        }
    }

    #[test]
    fn old_versions_rollback_and_reread() {
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (open(da.path(), 0), no_cache(db.path(), 0));
        let set = |pairs: &[(u8, Option<&str>)]| -> Changes {
            pairs
                .iter()
                .map(|(k, v)| (vec![*k], v.map(|v| v.as_bytes().to_vec())))
                .collect()
        };
        let mut history = vec![set(&[(1, Some("a0")), (2, Some("b0"))])];
        commit_both(&a, &b, &history, 0);
        assert_eq!(a.state_get(&[1], 0).unwrap().as_deref(), Some(&b"a0"[..]));
        let (hits, _, _) = a.head_cache_stats();
        assert_eq!(a.state_get(&[1], 0).unwrap().as_deref(), Some(&b"a0"[..]));
        assert_eq!(a.head_cache_stats().0, hits + 1, "a head read is a hit");
        history.push(set(&[(1, Some("a1")), (3, None)]));
        history.push(set(&[(2, None), (4, Some("d2"))]));
        commit_both(&a, &b, &history, 1);
        // Older versions read what they held, not the newest value.
        assert_eq!(a.state_get(&[1], 0).unwrap().as_deref(), Some(&b"a0"[..]));
        assert_eq!(a.state_get(&[1], 2).unwrap().as_deref(), Some(&b"a1"[..]));
        assert_eq!(a.state_get(&[2], 1).unwrap().as_deref(), Some(&b"b0"[..]));
        assert_eq!(a.state_get(&[2], 2).unwrap(), None);
        assert_eq!(a.state_get(&[4], 1).unwrap(), None);
        check_reads(&a, &b, &history, 6);
        // Roll back and read again: the cache must not remember the old fork.
        a.rollback_to(0).unwrap();
        b.rollback_to(0).unwrap();
        history.truncate(1);
        check_reads(&a, &b, &history, 6);
        history.push(set(&[(1, Some("fork")), (2, Some("b1"))]));
        history.push(set(&[(4, Some("d-fork"))]));
        commit_both(&a, &b, &history, 1);
        assert_eq!(a.state_get(&[1], 2).unwrap().as_deref(), Some(&b"fork"[..]));
        assert_eq!(
            a.state_get(&[4], 2).unwrap().as_deref(),
            Some(&b"d-fork"[..])
        );
        check_reads(&a, &b, &history, 6);
        assert_eq!(snapshot(&a), snapshot(&b));
        let (hits, misses, entries) = a.head_cache_stats();
        assert!(
            hits > 0 && misses > 0 && entries > 0,
            "{hits} {misses} {entries}"
        );
        assert_eq!(b.head_cache_stats().0, 0);
        assert!(a.node_cache_stats().0 > 0);
    }

    /// Readers on other threads read at the head while blocks are committed:
    /// every answer is the model's for the version asked (or an error for a
    /// version pruned meanwhile), so no fill ever records a stale value.
    #[test]
    fn concurrent_reads_during_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 3);
        let history: Vec<Changes> = (0..60u64)
            .map(|v| {
                (0..4u64)
                    .map(|i| {
                        let k = ((v * 5 + i * 3) % 16) as u8;
                        let value = (v % 5 != 4 || i != 0).then(|| format!("{v}/{i}").into_bytes());
                        (vec![k], value)
                    })
                    .collect()
            })
            .collect();
        let models: Vec<_> = (0..history.len() as u64)
            .map(|v| model_at(&history, v))
            .collect();
        commit_height(&store, 0, 0, &history[0]);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..2u8 {
                let (store, models, done) = (&store, &models, &done);
                s.spawn(move || {
                    let mut k = t;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let head = store.head().unwrap().unwrap().0;
                        k = (k + 7) % 16;
                        match store.state_get(&[k], head) {
                            Ok(got) => assert_eq!(
                                got.as_ref(),
                                models[head as usize].get(&vec![k]),
                                "key {k} at {head}"
                            ),
                            Err(StorageError::Pruned { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
            }
            for (v, c) in history.iter().enumerate().skip(1) {
                commit_height(&store, v as u64, 0, c);
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let head = history.len() as u64 - 1;
        for k in 0..16u8 {
            assert_eq!(
                store.state_get(&[k], head).unwrap().as_ref(),
                models[head as usize].get(&vec![k])
            );
        }
    }

    fn arb_history(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Changes>> {
        let key = (0u8..12).prop_map(|k| vec![k]);
        let value = prop::option::weighted(0.75, prop::collection::vec(any::<u8>(), 0..6));
        prop::collection::vec(
            prop::collection::btree_map(key, value, 1..6).prop_map(|m| m.into_iter().collect()),
            len,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// With the cache on (bounded to a few entries or not), a store
        /// answers every read at every retained version, every root and
        /// proof, and holds every byte on disk exactly as one with the cache
        /// off, through pruning, a rollback, re-reads and another fork.
        #[test]
        fn cache_on_and_off_agree(
            history in arb_history(1..14),
            fork in arb_history(0..6),
            window in 0u64..4,
            capacity in prop::sample::select(vec![0usize, 1, 3, 8, 1 << 17]),
            node_bytes in prop::sample::select(vec![0usize, 1000, 4000, 1 << 20, 1 << 26]),
            pick in any::<prop::sample::Index>(),
        ) {
            let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let (a, b) = (open(da.path(), window), no_cache(db.path(), window));
            a.set_head_cache_limits(capacity, 1 << 20);
            a.set_node_cache_limit(node_bytes);
            commit_both(&a, &b, &history, 0);
            check_reads(&a, &b, &history, 13);
            prop_assert_eq!(snapshot(&a), snapshot(&b));
            let head = history.len() as u64 - 1;
            let earliest = a.earliest_state_version().unwrap();
            let r = earliest + pick.index((head - earliest + 1) as usize) as u64;
            prop_assert_eq!(a.rollback_to(r).unwrap(), b.rollback_to(r).unwrap());
            let mut chain = history[..=r as usize].to_vec();
            check_reads(&a, &b, &chain, 13);
            prop_assert_eq!(snapshot(&a), snapshot(&b));
            chain.extend(fork);
            commit_both(&a, &b, &chain, r as usize + 1);
            check_reads(&a, &b, &chain, 13);
            prop_assert_eq!(snapshot(&a), snapshot(&b));
            // The cache did answer (it is not silently off).
            let (hits, _, entries) = a.head_cache_stats();
            prop_assert_eq!(hits > 0, capacity > 0);
            prop_assert!(entries <= capacity);
            if node_bytes >= 1 << 20 {
                prop_assert!(a.node_cache_stats().0 > 0);
            }
            prop_assert_eq!(b.node_cache_stats().0, 0);
        }
    }
}
