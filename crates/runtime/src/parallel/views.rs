//! State views the parallel executor layers under its overlays.

use crate::overlay::Writes;
use std::cell::RefCell;
use umbra_storage::{StateView, StorageError};

/// The block's pre-state plus what ran before the current parallel phase
/// (the block record, earlier phases). Shared read-only by all threads.
pub struct Layered<'a> {
    pub base: &'a (dyn StateView + Sync),
    pub top: &'a Writes,
}

impl StateView for Layered<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.top.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
}

/// Remembers every key read through it (for the re-run of strayed work).
pub struct Recorder<'a> {
    inner: &'a dyn StateView,
    reads: RefCell<Vec<Vec<u8>>>,
}

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn StateView) -> Self {
        Recorder {
            inner,
            reads: RefCell::new(Vec::new()),
        }
    }

    pub fn into_reads(self) -> Vec<Vec<u8>> {
        self.reads.into_inner()
    }
}

impl StateView for Recorder<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.reads.borrow_mut().push(key.to_vec());
        self.inner.get(key)
    }
}
