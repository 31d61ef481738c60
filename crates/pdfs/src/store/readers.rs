//! A small cache of read-only handles to segment files, so a `get` costs
//! one positional read and no `open`.
//!
//! Reads use `read_exact_at`, which has no seek position, so one handle
//! serves any number of concurrent readers. A handle keeps a deleted
//! (compacted) segment readable until it is dropped, so a reader that
//! looked a block up just before it moved still reads intact bytes.

use super::layout::segment_path;
use crate::error::PdfsError;
use std::collections::HashMap;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Handles kept open at most. Reads spread over more segments than this
/// reopen files, which costs microseconds (it is creating files that is
/// slow).
const MAX_OPEN: usize = 64;

#[derive(Debug)]
pub(super) struct Readers {
    segments: PathBuf,
    open: Mutex<HashMap<u64, Arc<File>>>,
}

impl Readers {
    pub fn new(segments: &Path) -> Self {
        Readers {
            segments: segments.to_path_buf(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A handle to segment `seq`, `None` if its file is gone. `exists` is
    /// asked, under the cache's lock, whether the store still has the
    /// segment before a new handle is kept: compaction deletes a segment's
    /// file, drops it from the accounting, then calls [`Readers::forget`],
    /// so a handle opened meanwhile is either kept before `forget` drops it
    /// or not kept at all, and no handle holds a deleted file's space for
    /// long.
    pub fn get(
        &self,
        seq: u64,
        exists: impl FnOnce() -> bool,
    ) -> Result<Option<Arc<File>>, PdfsError> {
        if let Some(f) = self.lock().get(&seq) {
            return Ok(Some(Arc::clone(f)));
        }
        // Opened without the lock, so other readers do not wait on it.
        let path = segment_path(&self.segments, seq);
        let file = match File::open(&path) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(PdfsError::io(&path, e)),
        };
        let mut open = self.lock();
        if !exists() {
            return Ok(Some(file));
        }
        if open.len() >= MAX_OPEN {
            // Any one will do: this is a cache of cheap-to-reopen handles.
            if let Some(evict) = open.keys().next().copied() {
                open.remove(&evict);
            }
        }
        Ok(Some(Arc::clone(open.entry(seq).or_insert(file))))
    }

    /// Drops the handle of a deleted segment.
    pub fn forget(&self, seq: u64) {
        self.lock().remove(&seq);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<File>>> {
        // Only handles are kept here; a panic cannot leave them half-changed.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}
