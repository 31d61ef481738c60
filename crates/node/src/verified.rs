//! Hashes of transactions whose signatures this node already checked.
//!
//! A transaction's hash covers its whole signed encoding, so a block that
//! carries a transaction this node admitted to its mempool carries exactly
//! the bytes it verified: importing the block need not verify them again.
//! At thousands of transactions a second, that halves the signature work.

use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use umbra_types::Hash;

/// Hashes remembered; the oldest are forgotten first.
const CAPACITY: usize = 262_144;

#[derive(Default)]
pub struct VerifiedTxs {
    inner: Mutex<(HashSet<Hash>, VecDeque<Hash>)>,
}

impl VerifiedTxs {
    /// Records that the transaction with this hash has a valid signature.
    pub fn insert(&self, hash: Hash) {
        let mut g = self.inner.lock();
        let (set, order) = &mut *g;
        if set.insert(hash) {
            order.push_back(hash);
            while order.len() > CAPACITY {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.inner.lock().0.contains(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_the_oldest() {
        let v = VerifiedTxs::default();
        let h = |i: u32| umbra_types::sha256(&i.to_le_bytes());
        v.insert(h(0));
        assert!(v.contains(&h(0)));
        assert!(!v.contains(&h(1)));
        for i in 1..=CAPACITY as u32 {
            v.insert(h(i));
        }
        assert!(!v.contains(&h(0)));
        assert!(v.contains(&h(1)));
        assert!(v.contains(&h(CAPACITY as u32)));
    }
}
