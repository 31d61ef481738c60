//! Conflict groups: transactions that may touch a common written key end up
//! in one group; different groups share no written key and can run at once.

use crate::overlay::KeyHasher;
use crate::resources::ResourceSet;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;
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

/// The conflict groups of a run of transactions.
#[derive(Debug, PartialEq, Eq)]
pub struct Groups {
    /// Group of each transaction of the run (by position in the run).
    pub of_tx: Vec<u32>,
    /// Transactions per group; groups are numbered by first transaction.
    pub sizes: Vec<u32>,
}

impl Groups {
    pub fn largest(&self) -> usize {
        self.sizes.iter().copied().max().unwrap_or(0) as usize
    }

    /// Members of each group (positions in the run), in block order.
    pub fn members(&self) -> Vec<Vec<usize>> {
        let mut m = vec![Vec::new(); self.sizes.len()];
        for (i, &g) in self.of_tx.iter().enumerate() {
            m[g as usize].push(i);
        }
        m
    }
}

/// Groups a run of transactions by shared write keys. A key that some
/// transaction only reads joins the readers to its writers' group; a key
/// nobody writes joins nothing. Delta keys are never looked at: commutative
/// additions do not order transactions. The result depends only on the input.
pub fn conflict_groups(declared: &[ResourceSet]) -> Groups {
    let n = declared.len();
    let mut uf = UnionFind::new(n);
    let mut writer: HashMap<&[u8], usize, KeyHasher> =
        HashMap::with_capacity_and_hasher(n * 2, KeyHasher::default());
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
    let mut group_of_root = vec![u32::MAX; n];
    let mut groups = Groups {
        of_tx: Vec::with_capacity(n),
        sizes: Vec::new(),
    };
    for i in 0..n {
        let root = uf.find(i);
        if group_of_root[root] == u32::MAX {
            group_of_root[root] = groups.sizes.len() as u32;
            groups.sizes.push(0);
        }
        let g = group_of_root[root];
        groups.sizes[g as usize] += 1;
        groups.of_tx.push(g);
    }
    groups
}

/// Packs groups into at most `units` work units of similar size (largest
/// group first onto the least loaded unit) and lists each unit's
/// transactions (positions in the run) in block order. One unit runs on one
/// thread with one overlay, so thousands of one-transaction groups do not
/// each pay for their own; a group is never split.
pub fn pack(groups: &Groups, units: usize) -> Vec<Vec<usize>> {
    let units = units.min(groups.sizes.len()).max(1);
    let mut order: Vec<usize> = (0..groups.sizes.len()).collect();
    order.sort_by_key(|&g| (Reverse(groups.sizes[g]), g));
    let mut load: BinaryHeap<Reverse<(usize, usize)>> =
        (0..units).map(|u| Reverse((0, u))).collect();
    let mut unit_of_group = vec![0u32; groups.sizes.len()];
    for g in order {
        if let Some(Reverse((l, u))) = load.pop() {
            unit_of_group[g] = u as u32;
            load.push(Reverse((l + groups.sizes[g] as usize, u)));
        }
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); units];
    for (i, &g) in groups.of_tx.iter().enumerate() {
        out[unit_of_group[g as usize] as usize].push(i);
    }
    out.retain(|u| !u.is_empty());
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
            deltas: &[crate::resources::Delta::RewardPool],
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
        let g = conflict_groups(&d);
        assert_eq!(g.members(), vec![vec![0, 2], vec![1, 3], vec![4]]);
        assert_eq!(g.largest(), 2);
    }

    proptest! {
        // Two transactions in different groups never share a key that either
        // writes; packing keeps every transaction exactly once, in order
        // within its unit, and never splits a group.
        #[test]
        fn groups_are_conflict_free(sets in proptest::collection::vec(
            (proptest::collection::vec(0u8..30, 0..3), proptest::collection::vec(0u8..30, 0..3)), 0..60),
            units in 1usize..9,
        ) {
            let d: Vec<ResourceSet> = sets.iter().map(|(r, w)| rs(r, w)).collect();
            let g = conflict_groups(&d);
            prop_assert_eq!(g.sizes.iter().sum::<u32>() as usize, d.len());
            for i in 0..d.len() {
                for j in 0..d.len() {
                    if g.of_tx[i] == g.of_tx[j] { continue; }
                    for w in &d[i].writes {
                        prop_assert!(!d[j].writes.contains(w) && !d[j].reads.contains(w));
                    }
                }
            }
            let packed = pack(&g, units);
            let mut unit_of = vec![usize::MAX; d.len()];
            for (u, members) in packed.iter().enumerate() {
                prop_assert!(members.windows(2).all(|w| w[0] < w[1]));
                for &i in members { unit_of[i] = u; }
            }
            prop_assert!(unit_of.iter().all(|&u| u != usize::MAX));
            for i in 0..d.len() {
                for j in 0..d.len() {
                    if g.of_tx[i] == g.of_tx[j] {
                        prop_assert_eq!(unit_of[i], unit_of[j]);
                    }
                }
            }
            prop_assert_eq!(packed.iter().map(Vec::len).sum::<usize>(), d.len());
        }
    }
}
