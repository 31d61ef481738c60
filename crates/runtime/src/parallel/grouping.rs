//! Conflict groups: transactions that may touch a common written key end up
//! in one group; different groups share no written key and can run at once.

use crate::resources::ResourceSet;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::hash_map::Entry;

/// Union-find with path halving and union by size.
struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.size[ra] >= self.size[rb] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small] = big as u32;
        self.size[big] += self.size[small];
    }
}

/// Groups the transactions `offset..offset + declared.len()` by shared write
/// keys. A key that some transaction only reads joins the readers to its
/// writers' group; a key nobody writes joins nothing. Delta keys are never
/// looked at: commutative additions do not order transactions.
///
/// Each group lists absolute indices in block order; groups are ordered by
/// their first transaction, so the result depends only on the input.
pub fn conflict_groups(declared: &[ResourceSet], offset: usize) -> Vec<Vec<usize>> {
    let n = declared.len();
    let mut uf = UnionFind::new(n);
    let mut writer: FxHashMap<&[u8], usize> =
        FxHashMap::with_capacity_and_hasher(n * 2, Default::default());
    for (i, rs) in declared.iter().enumerate() {
        for w in &rs.writes {
            match writer.entry(w.as_slice()) {
                Entry::Occupied(e) => uf.union(i, *e.get()),
                Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
    }
    for (i, rs) in declared.iter().enumerate() {
        for r in &rs.reads {
            if let Some(&j) = writer.get(r.as_slice()) {
                uf.union(i, j);
            }
        }
    }
    let mut group_of_root = vec![usize::MAX; n];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let root = uf.find(i);
        if group_of_root[root] == usize::MAX {
            group_of_root[root] = groups.len();
            groups.push(Vec::new());
        }
        groups[group_of_root[root]].push(offset + i);
    }
    groups
}

/// Packs groups into at most `bins` work units of similar size (largest group
/// first onto the least loaded unit). One unit runs on one thread with one
/// overlay, so thousands of one-transaction groups do not each pay for their
/// own. Each group stays whole and in block order inside its unit.
pub fn pack(groups: &[Vec<usize>], bins: usize) -> Vec<Vec<usize>> {
    let bins = bins.min(groups.len()).max(1);
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| groups[b].len().cmp(&groups[a].len()).then(a.cmp(&b)));
    let mut load: BinaryHeap<Reverse<(usize, usize)>> =
        (0..bins).map(|b| Reverse((0, b))).collect();
    let mut out = vec![Vec::new(); bins];
    for g in order {
        if let Some(Reverse((l, b))) = load.pop() {
            out[b].extend_from_slice(&groups[g]);
            load.push(Reverse((l + groups[g].len(), b)));
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rs(reads: &[u8], writes: &[u8]) -> ResourceSet {
        ResourceSet {
            reads: reads.iter().map(|k| vec![*k]).collect(),
            writes: writes.iter().map(|k| vec![*k]).collect(),
            deltas: vec![vec![255]],
            parallel: true,
        }
    }

    #[test]
    fn shared_writes_join_and_read_only_keys_do_not() {
        let d = vec![
            rs(&[9], &[1, 2]), // 0
            rs(&[9], &[3, 4]), // 1: only shares the read-only key 9 with 0
            rs(&[], &[2, 5]),  // 2: shares 2 with 0
            rs(&[4], &[6]),    // 3: reads 4, which 1 writes
            rs(&[], &[7]),     // 4: alone
        ];
        assert_eq!(
            conflict_groups(&d, 10),
            vec![vec![10, 12], vec![11, 13], vec![14]]
        );
    }

    proptest! {
        // Two transactions in different groups never share a key that either
        // writes; packing keeps every transaction exactly once.
        #[test]
        fn groups_are_conflict_free(sets in proptest::collection::vec(
            (proptest::collection::vec(0u8..30, 0..3), proptest::collection::vec(0u8..30, 0..3)), 0..60),
            bins in 1usize..9,
        ) {
            let d: Vec<ResourceSet> = sets.iter().map(|(r, w)| rs(r, w)).collect();
            let groups = conflict_groups(&d, 0);
            let mut group_of = vec![usize::MAX; d.len()];
            for (g, members) in groups.iter().enumerate() {
                prop_assert!(members.windows(2).all(|w| w[0] < w[1]));
                for &i in members { group_of[i] = g; }
            }
            for i in 0..d.len() {
                for j in 0..d.len() {
                    if group_of[i] == group_of[j] { continue; }
                    for w in &d[i].writes {
                        prop_assert!(!d[j].writes.contains(w) && !d[j].reads.contains(w));
                    }
                }
            }
            let mut all: Vec<usize> = pack(&groups, bins).concat();
            all.sort_unstable();
            prop_assert_eq!(all, (0..d.len()).collect::<Vec<_>>());
        }
    }
}
