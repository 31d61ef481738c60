//! A block's state changes: each key once, in ascending byte order, with its
//! new value or `None` for a deletion.
//!
//! A sorted vector, not a `BTreeMap`: a block's changes are built once (by
//! sorting, or by merging sorted runs on several threads), then only walked.
//! Building a tree of tens of thousands of entries cost the parallel executor
//! about a millisecond a block on its serial path. The borsh encoding is the
//! map's (a length, then the pairs in key order), so digests do not change.

use borsh::BorshSerialize;

/// One change: the key and its new value (`None` deletes).
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// State changes, sorted by key, each key once.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize)]
pub struct ChangeSet(Vec<Change>);

impl ChangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes changes already sorted by key, each key once, as a merge of
    /// sorted runs yields them: no sort, no check outside debug builds.
    /// Unsorted input gives a set whose lookups and equality are wrong, so
    /// anything not built sorted goes through `collect` instead.
    pub fn from_sorted(changes: Vec<Change>) -> Self {
        debug_assert!(
            changes.windows(2).all(|w| w[0].0 < w[1].0),
            "changes not sorted by unique key"
        );
        ChangeSet(changes)
    }

    /// Changes whose keys are distinct, in any order (a hash map's
    /// contents): sorted here.
    pub fn from_distinct(mut changes: Vec<Change>) -> Self {
        changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self::from_sorted(changes)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The change of `key`, if the set has one.
    pub fn get(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// Sets the change of `key`, returning the one it replaces. It moves
    /// every later entry, so it is for adding a few keys to a built set (the
    /// chain adds one a block); build a large set with `collect`.
    pub fn insert(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) -> Option<Option<Vec<u8>>> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Changes in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Option<Vec<u8>>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Option<Vec<u8>>> {
        self.0.iter().map(|(_, v)| v)
    }

    fn position(&self, key: &[u8]) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_slice().cmp(key))
    }
}

/// Any order; of equal keys the last wins, as inserting one by one would.
impl FromIterator<Change> for ChangeSet {
    fn from_iter<I: IntoIterator<Item = Change>>(iter: I) -> Self {
        let mut v: Vec<Change> = iter.into_iter().collect();
        // Stable: equal keys keep their order, so the last is the newest.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<Change> = Vec::with_capacity(v.len());
        for c in v {
            match out.last_mut() {
                Some(last) if last.0 == c.0 => *last = c,
                _ => out.push(c),
            }
        }
        ChangeSet(out)
    }
}

impl<const N: usize> From<[Change; N]> for ChangeSet {
    fn from(changes: [Change; N]) -> Self {
        changes.into_iter().collect()
    }
}

impl IntoIterator for ChangeSet {
    type Item = Change;
    type IntoIter = std::vec::IntoIter<Change>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ChangeSet {
    type Item = (&'a Vec<u8>, &'a Option<Vec<u8>>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, Change>,
        fn(&'a Change) -> (&'a Vec<u8>, &'a Option<Vec<u8>>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn change(k: &[u8], v: Option<u8>) -> Change {
        (k.to_vec(), v.map(|v| vec![v]))
    }

    #[test]
    fn insert_replaces_or_places_in_order() {
        let mut s = ChangeSet::from([change(b"b", Some(1)), change(b"d", None)]);
        assert_eq!(s.insert(b"c".to_vec(), Some(vec![2])), None);
        assert_eq!(s.insert(b"d".to_vec(), Some(vec![3])), Some(None));
        assert_eq!(s.insert(b"a".to_vec(), None), None);
        let keys: Vec<&[u8]> = s.keys().map(Vec::as_slice).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"c", b"d"]);
        assert_eq!(s.get(b"d"), Some(&Some(vec![3])));
        assert_eq!(s.get(b"e"), None);
    }

    proptest! {
        /// Collecting, inserting one by one and a `BTreeMap` agree, and the
        /// encoding is the map's.
        #[test]
        fn behaves_as_a_map(
            pairs in proptest::collection::vec(
                (proptest::collection::vec(0u8..4, 0..4), proptest::option::of(any::<u8>())),
                0..40,
            ),
        ) {
            let pairs: Vec<Change> = pairs.into_iter().map(|(k, v)| (k, v.map(|v| vec![v]))).collect();
            let map: BTreeMap<Vec<u8>, Option<Vec<u8>>> = pairs.iter().cloned().collect();
            let collected: ChangeSet = pairs.iter().cloned().collect();
            let mut inserted = ChangeSet::new();
            for (k, v) in pairs.iter().cloned() {
                inserted.insert(k, v);
            }
            let flat: Vec<Change> = map.clone().into_iter().collect();
            prop_assert_eq!(&collected, &inserted);
            prop_assert_eq!(&collected, &ChangeSet::from_sorted(flat.clone()));
            prop_assert_eq!(collected.len(), map.len());
            for (k, v) in &map {
                prop_assert_eq!(collected.get(k), Some(v));
            }
            prop_assert_eq!(borsh::to_vec(&collected).unwrap(), borsh::to_vec(&map).unwrap());
            let distinct: Vec<Change> = flat.into_iter().rev().collect();
            prop_assert_eq!(ChangeSet::from_distinct(distinct), collected);
        }
    }
}
