//! A write overlay over a state view: reads fall through to the base, writes
//! stay in memory until the block's changes are handed to storage.
//!
//! Pending writes live in a hash map because lookups dominate execution.
//! Its order never leaks: the only ways out are [`Overlay::into_changes`],
//! which sorts by key, and whole-map merges where order does not
//! matter.

use crate::Changes;
use crate::account::Account;
use crate::error::ExecError;
use crate::keys;
use crate::resources::ResourceSet;
use crate::sorted_run::sorted_run;
use std::cell::Cell;
use umbra_storage::{StateView, StorageError};
use umbra_types::{Address, decode_bounded, encode};

/// Largest state record the runtime will decode.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Unordered pending writes: key → new value, `None` for a deletion.
pub type Writes = std::collections::HashMap<Vec<u8>, Option<Vec<u8>>, KeyHasher>;

/// The hasher of every map keyed by state keys. Transactions choose many of
/// their keys (any 32 bytes can be a recipient), so an unseeded hash would let
/// a sender grind keys that share a bucket and make one block's execution
/// quadratic on every node. foldhash is seeded at random per process (and per
/// map) and about as fast as an unseeded hash. Seeds change no result: no
/// map's order reaches state or receipts.
pub type KeyHasher = foldhash::fast::RandomState;

/// Pending writes on top of a base state.
pub struct Overlay<'a> {
    base: &'a dyn StateView,
    writes: Writes,
    /// When set, every key read or written through this overlay must be in
    /// this resource set; a key outside it marks the overlay as strayed.
    guard: Option<&'a ResourceSet>,
    strayed: Cell<bool>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn StateView) -> Self {
        Overlay {
            base,
            writes: Writes::default(),
            guard: None,
            strayed: Cell::new(false),
        }
    }

    /// Checks every later access against `declared` (until changed again).
    /// The parallel executor's safety net: it runs each transaction with
    /// its own declaration as the guard.
    pub fn set_guard(&mut self, declared: Option<&'a ResourceSet>) {
        self.guard = declared;
    }

    /// Whether an access fell outside the guard since the overlay was made.
    pub fn strayed(&self) -> bool {
        self.strayed.get()
    }

    fn check(&self, key: &[u8]) {
        if let Some(g) = self.guard
            && !g.declares(key)
        {
            self.strayed.set(true);
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.check(key);
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.check(&key);
        self.writes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.check(&key);
        self.writes.insert(key, None);
    }

    /// Applies another overlay's writes on top of this one's.
    pub fn absorb(&mut self, writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) {
        for (k, v) in writes {
            if self.guard.is_some() {
                self.check(&k);
            }
            self.writes.insert(k, v);
        }
    }

    /// Makes room for `additional` more written keys.
    pub fn reserve(&mut self, additional: usize) {
        self.writes.reserve(additional);
    }

    /// The writes, unordered, for merging into another overlay.
    pub fn into_writes(self) -> Writes {
        self.writes
    }

    /// The writes in key order, as a block's state changes.
    pub fn into_changes(self) -> Changes {
        Changes::from_sorted(
            sorted_run(self.writes)
                .into_iter()
                .map(|(_, k, v)| (k, v))
                .collect(),
        )
    }

    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    pub fn account(&self, addr: &Address) -> Result<Account, ExecError> {
        let key = keys::account(addr);
        match self.get(&key)? {
            None => Ok(Account::default()),
            Some(bytes) => {
                decode_bounded(&bytes, MAX_RECORD_BYTES).map_err(|e| ExecError::CorruptState {
                    key: format!("account {addr}"),
                    reason: e.to_string(),
                })
            }
        }
    }

    pub fn set_account(&mut self, addr: &Address, acct: &Account) {
        self.put(keys::account(addr), encode(acct));
    }
}

impl StateView for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Overlay::get(self, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    // Keys are chosen by senders: if every map hashed them the same way, a
    // sender could grind keys into one bucket offline. Each map must draw
    // its own seed.
    #[test]
    fn state_key_maps_are_seeded_each() {
        let key = keys::account(&Address([7; 32]));
        let seen: std::collections::BTreeSet<u64> = (0..8)
            .map(|_| Writes::default().hasher().hash_one(&key))
            .collect();
        assert!(seen.len() > 1, "eight maps hashed a key identically");
    }
}
