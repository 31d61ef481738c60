//! A write overlay over a state view: reads fall through to the base, writes
//! stay in memory until the block's changes are handed to storage.

use crate::Changes;
use crate::account::Account;
use crate::error::ExecError;
use crate::keys;
use umbra_storage::{StateView, StorageError};
use umbra_types::{Address, decode_bounded, encode};

/// Largest state record the runtime will decode.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Pending writes on top of a base state.
pub struct Overlay<'a> {
    base: &'a dyn StateView,
    writes: Changes,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn StateView) -> Self {
        Overlay {
            base,
            writes: Changes::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Applies another overlay's writes on top of this one's.
    pub fn absorb(&mut self, writes: Changes) {
        self.writes.extend(writes);
    }

    pub fn into_changes(self) -> Changes {
        self.writes
    }

    pub fn changes(&self) -> &Changes {
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
