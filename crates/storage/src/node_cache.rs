//! The JMT node cache: the nodes the last few commits wrote, kept in memory
//! so the next block's tree update (which walks the paths recent blocks
//! rewrote, and always the top of the tree) and proofs need no RocksDB read
//! for them.
//!
//! Only a cache; RocksDB stays the truth and a miss reads it as before. It
//! costs the commit nothing but memory: the commit hands over the node batch
//! it has just written instead of dropping it.
//!
//! Why it is exact: a node's key is (version, nibble path), a commit at
//! version `v` writes only nodes of version `v`, and a committed node never
//! changes. Only two things make a key stop naming the node kept here:
//! - pruning deletes it. It is then unreachable from every retained root, and
//!   every read of a pruned version is refused before any node is read;
//! - a rollback deletes the nodes of the versions it undoes, and another fork
//!   may then write other nodes under the same keys. A rollback empties the
//!   cache (after its write, under the commit lock), and only commits fill it.
//!
//! Bounds: at most [`MAX_BATCHES`] batches and about `max_bytes` bytes
//! (estimated per node); the oldest batches are dropped first, and a batch
//! larger than the bound is not kept.

use crate::Version;
use jmt::storage::{Node, NodeBatch, NodeKey};
use parking_lot::RwLock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// Batches (one per committed version) kept at most.
pub const MAX_BATCHES: usize = 4;
/// Default bound on the estimated bytes of the kept nodes.
pub const DEFAULT_MAX_BYTES: usize = 96 << 20;
/// A kept leaf's estimated size: key, node, nibble path, tree slot.
const LEAF_COST: usize = 192;
/// What an internal node adds: its boxed array of 16 children.
const INTERNAL_EXTRA: usize = 1024;

fn cost(batch: &NodeBatch) -> usize {
    batch
        .nodes()
        .values()
        .map(|node| match node {
            Node::Internal(_) => LEAF_COST + INTERNAL_EXTRA,
            _ => LEAF_COST,
        })
        .sum()
}

#[derive(Debug, Default)]
struct Inner {
    /// (version, the nodes written at it, their estimated bytes), oldest first,
    /// consecutive versions.
    batches: VecDeque<(Version, NodeBatch, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl Inner {
    fn clear(&mut self) {
        self.batches.clear();
        self.bytes = 0;
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct NodeCache {
    inner: RwLock<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl NodeCache {
    pub(crate) fn new() -> Self {
        NodeCache {
            inner: RwLock::new(Inner {
                max_bytes: DEFAULT_MAX_BYTES,
                ..Inner::default()
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Changes the bound (0 turns the cache off) and empties it.
    pub(crate) fn set_limit(&self, max_bytes: usize) {
        let mut c = self.inner.write();
        c.max_bytes = max_bytes;
        c.clear();
    }

    /// The node under `key` if a kept batch wrote it.
    pub(crate) fn get(&self, key: &NodeKey) -> Option<Node> {
        let c = self.inner.read();
        let node = c
            .batches
            .iter()
            .rev()
            .find(|(v, _, _)| *v == key.version())
            .and_then(|(_, batch, _)| batch.get_node(key).cloned());
        drop(c);
        match node {
            Some(_) => &self.hits,
            None => &self.misses,
        }
        .fetch_add(1, Ordering::Relaxed);
        node
    }

    /// After the commit of `version` was written: keeps the nodes it wrote.
    pub(crate) fn committed(&self, version: Version, batch: NodeBatch) {
        let bytes = cost(&batch);
        let mut c = self.inner.write();
        if c.batches
            .back()
            .is_some_and(|(v, _, _)| v.checked_add(1) != Some(version))
        {
            c.clear();
        }
        if bytes > c.max_bytes {
            c.clear();
            return;
        }
        while c.batches.len() >= MAX_BATCHES || c.bytes + bytes > c.max_bytes {
            match c.batches.pop_front() {
                Some((_, _, b)) => c.bytes -= b,
                None => break,
            }
        }
        c.bytes += bytes;
        c.batches.push_back((version, batch, bytes));
    }

    /// Empties the cache: after a rollback was written, or when what is on
    /// disk is not known.
    pub(crate) fn reset(&self) {
        self.inner.write().clear();
    }

    /// (hits, misses, nodes kept) so far.
    pub(crate) fn stats(&self) -> (u64, u64, usize) {
        let c = self.inner.read();
        let nodes = c.batches.iter().map(|(_, b, _)| b.nodes().len()).sum();
        drop(c);
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            nodes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jmt::storage::LeafNode;

    /// A node key of `v`; `path` is a whole number of bytes (two nibbles each).
    fn key(v: u64, path: &[u8]) -> NodeKey {
        let mut bytes = (2 * path.len()).to_le_bytes().to_vec();
        bytes.extend((path.len() as u32).to_le_bytes());
        bytes.extend(path);
        NodeKey::new(v, borsh::from_slice(&bytes).unwrap())
    }

    fn leaf(i: u8) -> Node {
        Node::Leaf(LeafNode::new(
            jmt::KeyHash([i; 32]),
            jmt::ValueHash([i; 32]),
        ))
    }

    fn batch(v: u64, n: u8) -> NodeBatch {
        let nodes = (0..n).map(|i| (key(v, &[i]), leaf(i))).collect();
        NodeBatch::new(nodes, Default::default())
    }

    #[test]
    fn keeps_recent_batches_within_bounds() {
        let c = NodeCache::new();
        for v in 0..6 {
            c.committed(v, batch(v, 3));
        }
        // The last MAX_BATCHES versions only.
        assert_eq!(c.get(&key(1, &[0])), None);
        assert_eq!(c.get(&key(2, &[1])), Some(leaf(1)));
        assert_eq!(c.get(&key(5, &[2])), Some(leaf(2)));
        assert_eq!(c.get(&key(5, &[3])), None);
        assert_eq!(c.stats().2, 3 * MAX_BATCHES);
        // A gap in versions (a commit the cache did not see) starts afresh.
        c.committed(9, batch(9, 1));
        assert_eq!(c.get(&key(5, &[2])), None);
        assert_eq!(c.get(&key(9, &[0])), Some(leaf(0)));
        c.reset();
        assert_eq!(c.get(&key(9, &[0])), None);
        // Bytes: two batches of two leaves fit, a third pushes the first out.
        c.set_limit(4 * LEAF_COST);
        c.committed(1, batch(1, 2));
        c.committed(2, batch(2, 2));
        c.committed(3, batch(3, 2));
        assert_eq!(c.get(&key(1, &[0])), None);
        assert_eq!(c.get(&key(3, &[1])), Some(leaf(1)));
        // A batch larger than the bound is not kept, nor what came before.
        c.committed(4, batch(4, 5));
        assert_eq!(c.stats().2, 0);
        c.set_limit(0);
        c.committed(5, batch(5, 1));
        assert_eq!(c.get(&key(5, &[0])), None);
    }
}
