//! In-memory state backend for unit tests of other crates: a plain map, no
//! Merkle tree, no versions.

use crate::change_set::ChangeSet;
use crate::error::StorageError;
use crate::view::StateView;
use std::collections::BTreeMap;

/// State held in a `BTreeMap`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemState(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl MemState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a change set as `prepare_state` would (`None` deletes).
    pub fn apply(&mut self, changes: &ChangeSet) {
        for (k, v) in changes {
            match v {
                Some(v) => self.0.insert(k.clone(), v.clone()),
                None => self.0.remove(k),
            };
        }
    }
}

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.get(key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_and_get() {
        let mut s = MemState::new();
        s.apply(&ChangeSet::from([
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), None),
        ]));
        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        s.apply(&ChangeSet::from([(b"a".to_vec(), None)]));
        let view: &dyn StateView = &s;
        assert_eq!(view.get(b"a").unwrap(), None);
        fn read<V: StateView>(v: V, key: &[u8]) -> Option<Vec<u8>> {
            v.get(key).unwrap()
        }
        assert_eq!(read(&s, b"b"), None);
    }
}
