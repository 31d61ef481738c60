//! A small cache of read-only handles to segment files, so a `get` costs
//! one positional read and no `open`.
//!
//! Reads are positional, with no seek position, so one handle serves any
//! number of concurrent readers. A handle keeps a deleted (compacted)
//! segment readable until it is dropped, so a reader that looked a block
//! up just before it moved still reads intact bytes.
//!
//! Handles are opened with `O_DIRECT` while the store's mode allows it
//! (see `direct`): a record is read as the 4 KiB-aligned range around it,
//! into an aligned buffer of the store's pool, and its bytes are copied
//! out. Measured on the benchmark VM, reading back 1 GiB of blocks just
//! written with `O_DIRECT` (2 to 8 threads, every block hashed): 620–1,480
//! MB/s direct; through the page cache 340–660 MB/s while the VM's fresh
//! memory was slow, 810–1,460 MB/s once it was fast again. So direct reads
//! are never much slower, and twice as fast when fresh memory is slow. What
//! they give up: a block read again soon is read from the disk again, not
//! from memory.

use super::direct::{Buffers, Mode, is_refusal, read_buffered, read_direct};
use super::index::Location;
use super::layout::segment_path;
use crate::error::PdfsError;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Handles kept open at most. Reads spread over more segments than this
/// reopen files, which costs microseconds (it is creating files that is
/// slow).
const MAX_OPEN: usize = 64;

/// An open segment file.
#[derive(Debug)]
struct Handle {
    file: File,
    /// Opened with `O_DIRECT`.
    direct: bool,
}

#[derive(Debug)]
pub(super) struct Readers {
    segments: PathBuf,
    mode: Arc<Mode>,
    open: Mutex<HashMap<u64, Arc<Handle>>>,
}

impl Readers {
    pub fn new(segments: &Path, mode: Arc<Mode>) -> Self {
        Readers {
            segments: segments.to_path_buf(),
            mode,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The bytes of the block record at `at`; `None` if its segment is gone
    /// or too short (deleted or truncated behind the store's back). `exists`
    /// is as for [`Readers::handle`]; a direct read goes through a buffer
    /// of `pool`. `at.len` is bounded by `MAX_STORED_BLOCK` (it was when the
    /// record was read or written).
    pub fn read(
        &self,
        at: &Location,
        pool: &Buffers,
        exists: impl Fn() -> bool,
    ) -> Result<Option<Vec<u8>>, PdfsError> {
        let path = segment_path(&self.segments, at.segment);
        let Some(handle) = self.handle(at.segment, &exists)? else {
            return Ok(None);
        };
        match self.read_from(&handle, at, pool) {
            Err(e) if handle.direct && is_refusal(&e) => {
                // The filesystem took O_DIRECT at `open` but not for
                // reading: every handle is reopened buffered.
                self.mode.refused(&path, &e);
                self.lock().clear();
                match self.handle(at.segment, &exists)? {
                    Some(h) => self.read_from(&h, at, pool),
                    None => Ok(None),
                }
            }
            read => read,
        }
        .map_err(|e| PdfsError::io(&path, e))
    }

    fn read_from(&self, h: &Handle, at: &Location, pool: &Buffers) -> io::Result<Option<Vec<u8>>> {
        let (offset, len) = (at.data_offset(), at.len as usize);
        if h.direct {
            read_direct(&h.file, offset, len, &mut pool.take())
        } else {
            read_buffered(&h.file, offset, len)
        }
    }

    /// A handle to segment `seq`, `None` if its file is gone. `exists` is
    /// asked, under the cache's lock, whether the store still has the
    /// segment before a new handle is kept: compaction deletes a segment's
    /// file, drops it from the accounting, then calls [`Readers::forget`],
    /// so a handle opened meanwhile is either kept before `forget` drops it
    /// or not kept at all, and no handle holds a deleted file's space for
    /// long.
    fn handle(
        &self,
        seq: u64,
        exists: impl FnOnce() -> bool,
    ) -> Result<Option<Arc<Handle>>, PdfsError> {
        if let Some(h) = self.lock().get(&seq) {
            return Ok(Some(Arc::clone(h)));
        }
        // Opened without the lock, so other readers do not wait on it.
        let path = segment_path(&self.segments, seq);
        let handle = match self.mode.open(OpenOptions::new().read(true), &path) {
            Ok((file, direct)) => Arc::new(Handle { file, direct }),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(PdfsError::io(&path, e)),
        };
        let mut open = self.lock();
        if !exists() {
            return Ok(Some(handle));
        }
        if open.len() >= MAX_OPEN {
            // Any one will do: this is a cache of cheap-to-reopen handles.
            if let Some(evict) = open.keys().next().copied() {
                open.remove(&evict);
            }
        }
        Ok(Some(Arc::clone(open.entry(seq).or_insert(handle))))
    }

    /// Drops the handle of a deleted segment.
    pub fn forget(&self, seq: u64) {
        self.lock().remove(&seq);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Handle>>> {
        // Only handles are kept here; a panic cannot leave them half-changed.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}
