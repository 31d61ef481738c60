//! Sorted runs of writes and their merge into a block's change set.
//!
//! Each work unit sorts its own writes on the pool, alongside the others'
//! work, so the block's change set is a merge of sorted runs, not a sort.
//! The merge itself is cut into key ranges merged at once: on the block's
//! critical path, a serial merge of 40,000 keys cost about a millisecond.

use crate::Changes;
use crate::sorted_run::{Run, RunEntry, order};
use rayon::prelude::*;
use umbra_storage::Change;

/// The block's changes from sorted layers, oldest first; a key in several
/// layers takes the newest value. The key space is cut into `parts` ranges
/// at keys of the largest layer, and the ranges are merged on the current
/// thread pool; their results, in range order, are the sorted whole.
pub(super) fn merge_runs(mut runs: Vec<Run>, parts: usize) -> Changes {
    let pivots: Vec<(u64, Vec<u8>)> = match runs.iter().max_by_key(|r| r.len()) {
        Some(largest) if !largest.is_empty() => (1..parts.max(1))
            .map(|j| {
                let (p, k, _) = &largest[largest.len() * j / parts];
                (*p, k.clone())
            })
            .collect(),
        _ => Vec::new(),
    };
    // pieces[j]: every layer's slice of range j, oldest layer first.
    let mut pieces: Vec<Vec<&mut [RunEntry]>> = (0..=pivots.len())
        .map(|_| Vec::with_capacity(runs.len()))
        .collect();
    for run in &mut runs {
        let mut rest = run.as_mut_slice();
        for (j, (p, k)) in pivots.iter().enumerate() {
            let cut = rest.partition_point(|e| order(e) < (*p, k.as_slice()));
            let (below, above) = rest.split_at_mut(cut);
            pieces[j].push(below);
            rest = above;
        }
        pieces[pivots.len()].push(rest);
    }
    let merged: Vec<Vec<Change>> = pieces.into_par_iter().map(merge_slices).collect();
    let mut out = Vec::with_capacity(merged.iter().map(Vec::len).sum());
    for mut m in merged {
        out.append(&mut m);
    }
    Changes::from_sorted(out)
}

/// Merges sorted slices, oldest first, moving their keys and values out. A
/// linear scan of the heads: there are a few layers (one per work unit) and
/// thousands of keys.
fn merge_slices(mut slices: Vec<&mut [RunEntry]>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::with_capacity(slices.iter().map(|s| s.len()).sum());
    let mut next = vec![0usize; slices.len()];
    // The last pushed key's prefix: keys are compared in full only when
    // prefixes are equal, so the scan touches no key bytes on the heap for
    // almost every entry (that cost 4× the merge itself).
    let mut last_prefix = None;
    loop {
        // The smallest key; of equal keys the oldest layer's first, so the
        // newest comes last and replaces the others.
        let mut best: Option<(usize, (u64, &[u8]))> = None;
        for (i, s) in slices.iter().enumerate() {
            if let Some(e) = s.get(next[i])
                && best.is_none_or(|(_, b)| order(e) < b)
            {
                best = Some((i, order(e)));
            }
        }
        let Some((i, _)) = best else {
            break;
        };
        let e = &mut slices[i][next[i]];
        next[i] += 1;
        let (p, k, v) = (e.0, std::mem::take(&mut e.1), e.2.take());
        match out.last_mut() {
            Some(last) if last_prefix == Some(p) && last.0 == k => last.1 = v,
            _ => out.push((k, v)),
        }
        last_prefix = Some(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::overlay::Writes;
    use crate::sorted_run::sorted_run;
    use proptest::prelude::*;

    proptest! {
        /// Merging gives what applying the layers in order gives, however
        /// many ranges the merge is cut into.
        #[test]
        fn merged_layers_equal_layers_applied_in_order(
            layers in proptest::collection::vec(
                proptest::collection::vec(
                    (proptest::collection::vec(0u8..3, 0..12), proptest::option::of(any::<u8>())),
                    0..20,
                ),
                0..6,
            ),
            parts in 1usize..5,
        ) {
            let mut expected = Changes::new();
            let mut runs = Vec::new();
            for layer in &layers {
                let mut w = Writes::default();
                for (k, v) in layer {
                    w.insert(k.clone(), v.map(|b| vec![b]));
                }
                for (k, v) in &w {
                    expected.insert(k.clone(), v.clone());
                }
                runs.push(sorted_run(w));
            }
            prop_assert_eq!(merge_runs(runs, parts), expected);
        }
    }
}
