//! Conflict groups: transactions that may touch a common written key end up
//! in one group; different groups share no written key and can run at once.

use crate::overlay::KeyHasher;
use crate::resources::ResourceSet;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

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

/// Written keys a declaration's [`Prints`] hold inline (a transfer has 2,
/// a storage allocation 4).
const INLINE_WRITES: usize = 4;
/// Read keys held inline.
const INLINE_READS: usize = 2;

/// Fingerprints of one declaration's keys: what grouping compares, so it
/// reads one small array per transaction instead of chasing every key on
/// the heap. A fingerprint is a seeded 64-bit hash of a key; keys with equal
/// fingerprints count as one key. That can only join groups that need not
/// be joined, never part transactions that share a key, so the result is
/// still exactly the sequential one. The seed keeps senders from choosing
/// keys that collide.
#[derive(Clone, Copy, Debug)]
pub struct Prints {
    writes: [u64; INLINE_WRITES],
    reads: [u64; INLINE_READS],
    n_writes: u8,
    n_reads: u8,
    /// More keys than fit: grouping hashes this declaration's keys itself.
    spilled: bool,
}

/// Takes fingerprints of keys with one seed (per block).
#[derive(Clone, Default)]
pub struct Fingerprints(KeyHasher);

impl Fingerprints {
    pub fn of_key(&self, key: &[u8]) -> u64 {
        self.0.hash_one(key)
    }

    pub fn of(&self, rs: &ResourceSet) -> Prints {
        let mut p = Prints {
            writes: [0; INLINE_WRITES],
            reads: [0; INLINE_READS],
            n_writes: 0,
            n_reads: 0,
            spilled: rs.writes.len() > INLINE_WRITES || rs.reads.len() > INLINE_READS,
        };
        if !p.spilled {
            for (slot, k) in p.writes.iter_mut().zip(&rs.writes) {
                *slot = self.of_key(k);
            }
            for (slot, k) in p.reads.iter_mut().zip(&rs.reads) {
                *slot = self.of_key(k);
            }
            p.n_writes = rs.writes.len() as u8;
            p.n_reads = rs.reads.len() as u8;
        }
        p
    }

    /// Calls `f` with the fingerprint of each written key (or read key).
    fn each(&self, rs: &ResourceSet, p: &Prints, writes: bool, mut f: impl FnMut(u64)) {
        match (p.spilled, writes) {
            (false, true) => p.writes[..p.n_writes as usize].iter().for_each(|&x| f(x)),
            (false, false) => p.reads[..p.n_reads as usize].iter().for_each(|&x| f(x)),
            (true, true) => rs.writes.iter().for_each(|k| f(self.of_key(k))),
            (true, false) => rs.reads.iter().for_each(|k| f(self.of_key(k))),
        }
    }
}

/// Fingerprints are seeded hashes already: hashing them again for the map
/// would add nothing but time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = x;
    }
}

/// Groups a run of transactions by shared write keys. A key that some
/// transaction only reads joins the readers to its writers' group; a key
/// nobody writes joins nothing. Delta keys are never looked at: commutative
/// additions do not order transactions. Which transactions end up together
/// depends only on the input and, in the rare case of a fingerprint
/// collision, on the seed; the executed result depends on neither.
pub fn conflict_groups(declared: &[ResourceSet]) -> Groups {
    let f = Fingerprints::default();
    let prints: Vec<Prints> = declared.iter().map(|d| f.of(d)).collect();
    conflict_groups_of(declared, &prints, &f)
}

/// [`conflict_groups`] with each declaration's fingerprints already taken
/// by `f`.
pub fn conflict_groups_of(declared: &[ResourceSet], prints: &[Prints], f: &Fingerprints) -> Groups {
    groups_from_links(declared.len(), links(declared, prints, f))
}

/// Pairs of transactions that must share a group: each later writer or
/// reader of a written key with its first writer.
fn links(declared: &[ResourceSet], prints: &[Prints], f: &Fingerprints) -> Vec<(u32, u32)> {
    let n = declared.len();
    let mut links = Vec::new();
    let mut writer: HashMap<u64, u32, BuildHasherDefault<PassThrough>> =
        HashMap::with_capacity_and_hasher(n * 2, Default::default());
    for (i, (rs, p)) in declared.iter().zip(prints).enumerate() {
        f.each(rs, p, true, |w| match writer.entry(w) {
            Entry::Occupied(e) => links.push((i as u32, *e.get())),
            Entry::Vacant(e) => {
                e.insert(i as u32);
            }
        });
    }
    for (i, (rs, p)) in declared.iter().zip(prints).enumerate() {
        f.each(rs, p, false, |r| {
            if let Some(&j) = writer.get(&r) {
                links.push((i as u32, j));
            }
        });
    }
    links
}

/// Groups from the pairs that must share one. The partition does not
/// depend on the pairs' order, and groups are numbered by first
/// transaction, so the result is the same however the pairs were found.
fn groups_from_links(n: usize, links: impl IntoIterator<Item = (u32, u32)>) -> Groups {
    let mut uf = UnionFind::new(n);
    for (a, b) in links {
        uf.union(a as usize, b as usize);
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
///
/// One-transaction groups, which are most groups in most blocks, come last
/// in that order, each onto the least loaded unit: that is filling the units
/// up to a common level, computed at once instead of with a heap operation
/// per transaction. They are handed out in block order, so a unit's
/// transactions are mostly neighbours in the block.
pub fn pack(groups: &Groups, units: usize) -> Vec<Vec<usize>> {
    let units = units.min(groups.sizes.len()).max(1);
    let mut large: Vec<usize> = (0..groups.sizes.len())
        .filter(|&g| groups.sizes[g] > 1)
        .collect();
    large.sort_by_key(|&g| (Reverse(groups.sizes[g]), g));
    let mut heap: BinaryHeap<Reverse<(usize, usize)>> =
        (0..units).map(|u| Reverse((0, u))).collect();
    let mut unit_of_group = vec![u32::MAX; groups.sizes.len()];
    for g in large {
        if let Some(Reverse((l, u))) = heap.pop() {
            unit_of_group[g] = u as u32;
            heap.push(Reverse((l + groups.sizes[g] as usize, u)));
        }
    }
    let mut load = vec![0usize; units];
    for Reverse((l, u)) in heap {
        load[u] = l;
    }
    let singles = groups.sizes.iter().filter(|&&s| s == 1).count();
    let mut quota = fill_to_level(&load, singles).into_iter().enumerate();
    let mut current = quota.next();
    for (g, &size) in groups.sizes.iter().enumerate() {
        if size != 1 {
            continue;
        }
        while let Some((_, 0)) = current {
            current = quota.next();
        }
        if let Some((u, left)) = current.as_mut() {
            unit_of_group[g] = *u as u32;
            *left -= 1;
        }
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); units];
    for (i, &g) in groups.of_tx.iter().enumerate() {
        if let Some(unit) = out.get_mut(unit_of_group[g as usize] as usize) {
            unit.push(i);
        }
    }
    out.retain(|u| !u.is_empty());
    out
}

/// How many of `items` unit-sized items each unit gets when every item goes
/// onto the least loaded unit (ties to the lower index): all units are
/// raised to one level, and the units at it, lowest index first, take what
/// is left over.
fn fill_to_level(load: &[usize], items: usize) -> Vec<usize> {
    let below = |level: usize| -> usize { load.iter().map(|&l| level.saturating_sub(l)).sum() };
    // The highest level the items raise every unit below it to.
    let (mut lo, mut hi) = (0, load.iter().copied().max().unwrap_or(0) + items);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if below(mid) <= items {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut quota: Vec<usize> = load.iter().map(|&l| lo.saturating_sub(l)).collect();
    let mut left = items - below(lo);
    for (q, &l) in quota.iter_mut().zip(load) {
        if left > 0 && l + *q == lo {
            *q += 1;
            left -= 1;
        }
    }
    quota
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

    /// Unit sizes (ascending, empty units left out) of the plain greedy
    /// packing: every group, largest first, onto the least loaded unit.
    fn lpt_loads(g: &Groups, units: usize) -> Vec<usize> {
        let units = units.min(g.sizes.len()).max(1);
        let mut order: Vec<usize> = (0..g.sizes.len()).collect();
        order.sort_by_key(|&x| (Reverse(g.sizes[x]), x));
        let mut load = vec![0usize; units];
        for x in order {
            let u = (0..units).min_by_key(|&u| (load[u], u)).unwrap_or(0);
            load[u] += g.sizes[x] as usize;
        }
        let mut loads: Vec<usize> = load.into_iter().filter(|&l| l > 0).collect();
        loads.sort_unstable();
        loads
    }

    #[test]
    fn fill_to_level_tops_up_the_lowest_first() {
        assert_eq!(fill_to_level(&[0, 0, 0], 7), [3, 2, 2]);
        assert_eq!(fill_to_level(&[5, 0, 2], 4), [0, 3, 1]);
        assert_eq!(fill_to_level(&[5, 0, 2], 9), [1, 5, 3]);
        assert_eq!(fill_to_level(&[4, 4], 0), [0, 0]);
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
        // within its unit, and never splits a group. Some declarations have
        // more keys than fingerprints held inline.
        #[test]
        fn groups_are_conflict_free(sets in proptest::collection::vec(
            (proptest::collection::vec(0u8..30, 0..4), proptest::collection::vec(0u8..30, 0..7)), 0..60),
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
            let mut loads: Vec<usize> = packed.iter().map(Vec::len).collect();
            loads.sort_unstable();
            prop_assert_eq!(loads, lpt_loads(&g, units));
        }
    }
}
