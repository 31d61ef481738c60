//! Read access to state at one version, independent of the backend.

use crate::Version;
use crate::error::StorageError;
use crate::store::Store;

/// Reads state values. Implemented by [`StateAt`] (the store at a version) and
/// [`MemState`](crate::MemState) (in memory, for tests).
pub trait StateView {
    /// The value of `key`, `None` if absent.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
}

impl<T: StateView + ?Sized> StateView for &T {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        (**self).get(key)
    }
}

/// The store's state as of one version. Created by [`Store::state_at`].
#[derive(Clone, Copy, Debug)]
pub struct StateAt<'a> {
    store: &'a Store,
    version: Version,
}

impl<'a> StateAt<'a> {
    pub(crate) fn new(store: &'a Store, version: Version) -> Self {
        StateAt { store, version }
    }

    /// The version this view reads.
    pub fn version(&self) -> Version {
        self.version
    }
}

impl StateView for StateAt<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.store.state_get(key, self.version)
    }
}
