//! Binary Merkle tree over 32-byte leaves, with inclusion proofs.
//!
//! Rules (written down because proofs depend on them):
//! - a leaf node is `H(0x00 ‖ leaf)`, an inner node is `H(0x01 ‖ left ‖ right)`,
//!   so a leaf can never be passed off as an inner node;
//! - on a level with an odd number of nodes the last node is **carried up
//!   unchanged** (not duplicated: duplication lets two different leaf lists share
//!   a root, the CVE-2012-2459 pattern);
//! - the root of an empty list is the all-zero hash.

use crate::hash::{Hash, sha256_parts};
use borsh::{BorshDeserialize, BorshSerialize};

fn leaf_node(leaf: &Hash) -> Hash {
    sha256_parts(&[&[0u8], &leaf.0])
}

fn inner_node(l: &Hash, r: &Hash) -> Hash {
    sha256_parts(&[&[1u8], &l.0, &r.0])
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => inner_node(l, r),
            [odd] => *odd,
            _ => Hash::ZERO,
        })
        .collect()
}

/// Root over the leaves in order.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = leaves.iter().map(leaf_node).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// Proof that one leaf is at `index` in a list of `leaf_count` leaves.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MerkleProof {
    pub index: u64,
    pub leaf_count: u64,
    /// Siblings from the bottom up; levels where the node was carried up have none.
    pub siblings: Vec<Hash>,
}

/// Builds the proof for `leaves[index]`, or `None` if out of range.
pub fn merkle_proof(leaves: &[Hash], index: usize) -> Option<MerkleProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level: Vec<Hash> = leaves.iter().map(leaf_node).collect();
    let mut i = index;
    while level.len() > 1 {
        let sib = i ^ 1;
        if sib < level.len() {
            siblings.push(level[sib]);
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(MerkleProof {
        index: index as u64,
        leaf_count: leaves.len() as u64,
        siblings,
    })
}

/// A whole tree kept in memory, for a prover that needs many proofs of one
/// list: building every proof with [`merkle_proof`] would rehash the whole
/// list each time (quadratic for a 16k-block content).
#[derive(Clone, Debug)]
pub struct MerkleTree {
    /// `levels[0]` are the leaf nodes, the last level is the root alone.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    pub fn new(leaves: &[Hash]) -> Self {
        let mut levels = vec![leaves.iter().map(leaf_node).collect::<Vec<_>>()];
        while let Some(top) = levels.last().filter(|l| l.len() > 1) {
            let next = next_level(top);
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// The same root as [`merkle_root`] over the leaves.
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|l| l.first()) {
            Some(r) => *r,
            None => Hash::ZERO,
        }
    }

    /// The same proof as [`merkle_proof`], without rehashing.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        let leaf_count = self.levels.first()?.len();
        if index >= leaf_count {
            return None;
        }
        let mut siblings = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(s) = level.get(i ^ 1) {
                siblings.push(*s);
            }
            i /= 2;
        }
        Some(MerkleProof {
            index: index as u64,
            leaf_count: leaf_count as u64,
            siblings,
        })
    }
}

impl MerkleProof {
    /// Checks that `leaf` sits at `self.index` under `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> bool {
        if self.index >= self.leaf_count {
            return false;
        }
        let mut node = leaf_node(leaf);
        let mut i = self.index;
        let mut width = self.leaf_count;
        let mut sibs = self.siblings.iter();
        while width > 1 {
            let sib = i ^ 1;
            if sib < width {
                let Some(s) = sibs.next() else { return false };
                node = if i.is_multiple_of(2) {
                    inner_node(&node, s)
                } else {
                    inner_node(s, &node)
                };
            }
            i /= 2;
            width = width.div_ceil(2);
        }
        sibs.next().is_none() && node == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| sha256(&(i as u64).to_le_bytes())).collect()
    }

    #[test]
    fn small_trees() {
        assert_eq!(merkle_root(&[]), Hash::ZERO);
        let l = leaves(3);
        assert_eq!(merkle_root(&l[..1]), leaf_node(&l[0]));
        let ab = inner_node(&leaf_node(&l[0]), &leaf_node(&l[1]));
        assert_eq!(merkle_root(&l), inner_node(&ab, &leaf_node(&l[2])));
        // Not the duplication rule: [a,b,c] and [a,b,c,c] differ.
        let mut dup = l.clone();
        dup.push(l[2]);
        assert_ne!(merkle_root(&l), merkle_root(&dup));
    }

    proptest! {
        #[test]
        fn tree_matches_one_shot_functions(n in 0usize..70) {
            let l = leaves(n);
            let tree = MerkleTree::new(&l);
            prop_assert_eq!(tree.root(), merkle_root(&l));
            for i in 0..=n {
                prop_assert_eq!(tree.proof(i), merkle_proof(&l, i));
            }
        }

        #[test]
        fn proofs_verify_and_tampering_fails(n in 1usize..70, pick in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let root = merkle_root(&l);
            let i = pick.index(n);
            let p = merkle_proof(&l, i).unwrap();
            prop_assert!(p.verify(&l[i], &root));
            // Wrong leaf.
            prop_assert!(!p.verify(&sha256(b"other"), &root));
            // Wrong index.
            if n > 1 {
                let mut q = p.clone();
                q.index = ((i + 1) % n) as u64;
                prop_assert!(!q.verify(&l[i], &root) || l[i] == l[(i + 1) % n]);
            }
            // A flipped bit in any sibling.
            if !p.siblings.is_empty() {
                let mut q = p.clone();
                let k = flip.index(q.siblings.len());
                q.siblings[k].0[0] ^= 1;
                prop_assert!(!q.verify(&l[i], &root));
            }
            // Extra or missing siblings.
            let mut q = p.clone();
            q.siblings.push(Hash::ZERO);
            prop_assert!(!q.verify(&l[i], &root));
            if !p.siblings.is_empty() {
                let mut q = p.clone();
                q.siblings.pop();
                prop_assert!(!q.verify(&l[i], &root));
            }
            prop_assert!(merkle_proof(&l, n).is_none());
        }
    }
}
