//! Blocks of branches other than the head's, kept (unexecuted) until their
//! branch becomes the longest or falls below the irreversible height.
//!
//! Bounded by count and bytes: when full, the lowest blocks go first, since
//! a branch far behind is the least likely to win.

use std::collections::HashMap;
use umbra_types::{Block, Hash, Height};

/// Most blocks kept.
pub const MAX_SIDE_BLOCKS: usize = 512;
/// Most bytes of blocks kept.
pub const MAX_SIDE_BYTES: usize = 128 << 20;

#[derive(Default)]
pub struct SidePool {
    blocks: HashMap<Hash, (Block, usize)>,
    bytes: usize,
}

impl SidePool {
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.blocks.contains_key(hash)
    }

    pub fn height_of(&self, hash: &Hash) -> Option<Height> {
        self.blocks.get(hash).map(|(b, _)| b.header.height)
    }

    /// Keeps `block`, evicting the lowest blocks if over the bounds.
    pub fn insert(&mut self, block: Block) {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return;
        }
        let size = borsh::object_length(&block).unwrap_or(usize::MAX / 4);
        self.bytes = self.bytes.saturating_add(size);
        self.blocks.insert(hash, (block, size));
        while self.blocks.len() > MAX_SIDE_BLOCKS || self.bytes > MAX_SIDE_BYTES {
            let Some(lowest) = self
                .blocks
                .iter()
                .min_by_key(|(h, (b, _))| (b.header.height, **h))
                .map(|(h, _)| *h)
            else {
                break;
            };
            self.remove(&lowest);
        }
    }

    pub fn remove(&mut self, hash: &Hash) -> Option<Block> {
        let (b, size) = self.blocks.remove(hash)?;
        self.bytes = self.bytes.saturating_sub(size);
        Some(b)
    }

    /// Removes and returns a kept block whose parent is `parent` (the one
    /// with the smallest hash, so the choice does not depend on arrival).
    pub fn take_child_of(&mut self, parent: &Hash) -> Option<Block> {
        let child = self
            .blocks
            .iter()
            .filter(|(_, (b, _))| b.header.parent_hash == *parent)
            .map(|(h, _)| *h)
            .min()?;
        self.remove(&child)
    }

    /// Removes `hash` and every kept block descending from it.
    pub fn remove_descendants(&mut self, hash: &Hash) {
        let mut doomed = vec![*hash];
        while let Some(h) = doomed.pop() {
            self.remove(&h);
            doomed.extend(
                self.blocks
                    .iter()
                    .filter(|(_, (b, _))| b.header.parent_hash == h)
                    .map(|(c, _)| *c),
            );
        }
    }

    /// Drops blocks at or below `height`: they can no longer be part of a
    /// winning branch.
    pub fn prune_at_or_below(&mut self, height: Height) {
        let low: Vec<Hash> = self
            .blocks
            .iter()
            .filter(|(_, (b, _))| b.header.height <= height)
            .map(|(h, _)| *h)
            .collect();
        for h in low {
            self.remove(&h);
        }
    }

    /// The branch ending at `tip`: walks kept parents back to a block
    /// `on_main` finds on the main chain. Returns that fork height and the
    /// kept blocks above it, oldest first; `None` if the walk breaks off
    /// (a missing ancestor).
    pub fn branch_to(
        &self,
        tip: &Hash,
        on_main: impl Fn(&Hash) -> Option<Height>,
    ) -> Option<(Height, Vec<Block>)> {
        let mut out = Vec::new();
        let mut cur = *tip;
        loop {
            let (b, _) = self.blocks.get(&cur)?;
            out.push(b.clone());
            let parent = b.header.parent_hash;
            if let Some(h) = on_main(&parent) {
                out.reverse();
                return Some((h, out));
            }
            if out.len() > MAX_SIDE_BLOCKS {
                return None;
            }
            cur = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::{Header, PublicKey, Signature};

    fn block(height: Height, parent: Hash, salt: u8) -> Block {
        Block {
            header: Header {
                chain_id: 1,
                height,
                parent_hash: parent,
                timestamp_ms: u64::from(salt),
                proposer: PublicKey::default(),
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                consensus: vec![],
                signature: Signature::default(),
            },
            transactions: vec![],
        }
    }

    #[test]
    fn branches_walk_back_to_the_main_chain() {
        let main = Hash([7; 32]);
        let a = block(5, main, 1);
        let b = block(6, a.hash(), 1);
        let c = block(7, b.hash(), 1);
        let mut pool = SidePool::default();
        for x in [&c, &a, &b] {
            pool.insert(x.clone());
        }
        let on_main = |h: &Hash| (*h == main).then_some(4);
        let (fork, blocks) = pool.branch_to(&c.hash(), on_main).unwrap();
        assert_eq!(fork, 4);
        assert_eq!(
            blocks.iter().map(|b| b.header.height).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        // A gap breaks the branch.
        pool.remove(&b.hash());
        assert!(pool.branch_to(&c.hash(), on_main).is_none());
    }

    #[test]
    fn descendants_go_with_their_ancestor_and_bounds_hold() {
        let main = Hash([7; 32]);
        let a = block(5, main, 1);
        let b = block(6, a.hash(), 1);
        let b2 = block(6, a.hash(), 2);
        let other = block(5, main, 3);
        let mut pool = SidePool::default();
        for x in [&a, &b, &b2, &other] {
            pool.insert(x.clone());
        }
        pool.remove_descendants(&a.hash());
        assert_eq!(pool.len(), 1);
        assert!(pool.contains(&other.hash()));
        assert_eq!(pool.take_child_of(&main).unwrap(), other);
        assert!(pool.is_empty());

        let mut parent = main;
        for h in 0..(MAX_SIDE_BLOCKS as u64 + 10) {
            let x = block(h + 1, parent, 0);
            parent = x.hash();
            pool.insert(x);
        }
        assert_eq!(pool.len(), MAX_SIDE_BLOCKS);
        // The lowest went first.
        assert!(pool.height_of(&parent).is_some());
        pool.prune_at_or_below(MAX_SIDE_BLOCKS as u64);
        assert_eq!(pool.len(), 10);
    }
}
