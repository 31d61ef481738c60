//! Writes sorted by key with each key's first eight bytes beside it.
//!
//! Sorting 40,000 state keys by comparing their bytes touches every key's
//! heap buffer on every comparison; with the prefix stored in the entry,
//! almost every comparison is of two integers already in the array.

use crate::overlay::Writes;

/// A layer of writes sorted by key, each with its [`key_prefix`].
pub(crate) type Run = Vec<RunEntry>;
pub(crate) type RunEntry = (u64, Vec<u8>, Option<Vec<u8>>);

/// The first 8 bytes of a key as a big-endian number: comparing these
/// first orders keys like comparing the bytes, without a call per compare.
pub(crate) fn key_prefix(k: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = k.len().min(8);
    b[..n].copy_from_slice(&k[..n]);
    u64::from_be_bytes(b)
}

pub(crate) fn order(e: &RunEntry) -> (u64, &[u8]) {
    (e.0, e.1.as_slice())
}

/// Writes sorted by key.
pub(crate) fn sorted_run(writes: Writes) -> Run {
    let mut run: Run = writes
        .into_iter()
        .map(|(k, v)| (key_prefix(&k), k, v))
        .collect();
    // A layer's keys are distinct, so an unstable sort is exact.
    run.sort_unstable_by(|a, b| order(a).cmp(&order(b)));
    run
}

/// Whether a sorted layer writes `key`.
pub(crate) fn run_has(run: &Run, key: &[u8]) -> bool {
    let at = (key_prefix(key), key);
    run.binary_search_by(|e| order(e).cmp(&at)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Ordering by prefix, then bytes, is ordering by bytes: short keys,
        /// zero bytes and keys that share their first eight bytes included.
        #[test]
        fn sorts_like_the_bytes(keys in proptest::collection::hash_set(
            proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..12),
            0..40,
        )) {
            let mut w = Writes::default();
            for k in &keys {
                w.insert(k.clone(), None);
            }
            let got: Vec<Vec<u8>> = sorted_run(w).into_iter().map(|(_, k, _)| k).collect();
            let mut want: Vec<Vec<u8>> = keys.into_iter().collect();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_layer_has_exactly_its_keys() {
        let mut w = Writes::default();
        for k in [&b"abcdefghij"[..], b"abc", b"", b"abcdefgh"] {
            w.insert(k.to_vec(), None);
        }
        let run = sorted_run(w);
        for k in [&b"abcdefghij"[..], b"abc", b"", b"abcdefgh"] {
            assert!(run_has(&run, k), "{k:?}");
        }
        for k in [&b"abcdefghi"[..], b"ab", b"abcdefgh\0"] {
            assert!(!run_has(&run, k), "{k:?}");
        }
    }
}
