//! Placement in the XOR keyspace: which storage nodes should hold a block.
//!
//! Positions are SHA-256 digests, as Kademlia's are (libp2p's Kademlia
//! keys a peer by the SHA-256 of its peer id bytes), so "the K nodes closest
//! to a block id" here are the nodes a Kademlia lookup for that id finds.

use umbra_types::{Hash, sha256};

/// A storage node's position: SHA-256 of its libp2p peer id bytes.
pub fn node_key(peer_id_bytes: &[u8]) -> Hash {
    sha256(peer_id_bytes)
}

/// XOR distance between two positions; compare distances as big-endian
/// numbers (which is how `Hash`'s `Ord` compares them).
pub fn distance(a: &Hash, b: &Hash) -> Hash {
    let mut d = [0u8; 32];
    for ((d, x), y) in d.iter_mut().zip(a.0).zip(b.0) {
        *d = x ^ y;
    }
    Hash(d)
}

/// Indices into `nodes` of the `k` nodes closest to `target` by XOR
/// distance, closest first; equal distances (the same key listed twice)
/// are ordered by index. All of them if `k >= nodes.len()`. Deterministic:
/// a pure function of its inputs.
pub fn closest(target: &Hash, nodes: &[Hash], k: usize) -> Vec<usize> {
    let mut order: Vec<(Hash, usize)> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (distance(target, n), i))
        .collect();
    // (distance, index) pairs are all distinct, so this order is total and
    // the unstable algorithms give the same answer every time.
    if k < order.len() {
        order.select_nth_unstable(k);
        order.truncate(k);
    }
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| node_key(&i.to_le_bytes())).collect()
    }

    fn brute_force(target: &Hash, nodes: &[Hash], k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..nodes.len()).collect();
        idx.sort_by(|&a, &b| {
            let da = distance(target, &nodes[a]);
            let db = distance(target, &nodes[b]);
            // Compare as 256-bit big-endian integers, byte by byte.
            da.0.iter().cmp(db.0.iter()).then(a.cmp(&b))
        });
        idx.truncate(k);
        idx
    }

    #[test]
    fn basics() {
        let nodes = keys(10);
        let t = sha256(b"block");
        assert_eq!(closest(&t, &nodes, 0), Vec::<usize>::new());
        assert_eq!(closest(&t, &[], 3), Vec::<usize>::new());
        let all = closest(&t, &nodes, 100);
        assert_eq!(all.len(), 10);
        assert_eq!(all, brute_force(&t, &nodes, 10));
        assert_eq!(closest(&t, &nodes, 3), all[..3]);
        // A node at the target itself is closest.
        let mut with_self = nodes.clone();
        with_self.push(t);
        assert_eq!(closest(&t, &with_self, 1), vec![10]);
        // Duplicates are ordered by index.
        let dup = vec![nodes[4], nodes[4], nodes[4]];
        assert_eq!(closest(&t, &dup, 2), vec![0, 1]);
        assert_eq!(node_key(b"peer"), sha256(b"peer"));
        assert_eq!(distance(&t, &t), Hash::ZERO);
        assert_eq!(distance(&t, &Hash::ZERO), t);
    }

    proptest! {
        #[test]
        fn matches_brute_force(n in 0usize..60, k in 0usize..70, target in any::<[u8; 32]>(), dups in 0usize..3) {
            let mut nodes = keys(n);
            for i in 0..dups.min(n) {
                nodes.push(nodes[i]);
            }
            let t = Hash(target);
            let got = closest(&t, &nodes, k);
            prop_assert_eq!(&got, &brute_force(&t, &nodes, k));
            prop_assert_eq!(got.len(), k.min(nodes.len()));
            prop_assert_eq!(got, closest(&t, &nodes, k));
        }
    }
}
