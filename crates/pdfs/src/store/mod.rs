//! The local block store of a storage node (and the client's cache): blocks
//! as files named by their id, with capacity accounting, plus the manifests
//! of the contents they belong to.
//!
//! Every block is verified on the way in (its SHA-256 must be its id) and on
//! the way out (a file changed on disk is deleted and reported missing), so
//! the store never serves bytes that do not match their name.
//!
//! The accounting (bytes and blocks stored) lives behind one mutex. A `put`
//! reserves its bytes and marks the block as being written under the lock,
//! then writes the file without it (so writes of different blocks overlap),
//! so concurrent `put`s of one block count it once and the store never goes
//! past its capacity. Deletes hold the lock across the unlink. One
//! `BlockStore` per directory at a time: a second process writing to the
//! same directory would not be counted until the next `open`.

mod gc;
mod layout;
mod manifests;
#[cfg(test)]
mod tests;

pub use gc::GcReport;

use crate::error::PdfsError;
use crate::limits::MAX_STORED_BLOCK;
use layout::{
    BLOCKS_DIR, MANIFESTS_DIR, ReadOutcome, TMP_SUFFIX, block_path, entries, file_len, parse_id,
    read_bounded, remove, shard, write_atomic,
};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use umbra_types::{Hash, sha256};

/// Blocks on disk under a byte capacity. `Send + Sync`: share it in an `Arc`.
#[derive(Debug)]
pub struct BlockStore {
    dir: PathBuf,
    blocks: PathBuf,
    capacity: u64,
    usage: Mutex<Usage>,
    /// Signalled when a block leaves [`Usage::writing`].
    written: Condvar,
    /// Numbers temporary files so concurrent writers never share one.
    tmp_seq: AtomicU64,
}

#[derive(Debug, Default)]
struct Usage {
    /// Bytes of block files (manifests are not counted).
    bytes: u64,
    blocks: u64,
    /// Blocks whose file is being written right now; their bytes are
    /// already counted.
    writing: HashSet<Hash>,
}

impl BlockStore {
    /// Opens (creating if needed) the store in `dir`: `dir/blocks` and
    /// `dir/manifests`. Scans the blocks to count the bytes used and removes
    /// temporary files left by an interrupted write. Opening with a smaller
    /// capacity than is used is allowed; `put` then refuses until space is
    /// freed.
    pub fn open(dir: &Path, capacity_bytes: u64) -> Result<Self, PdfsError> {
        let blocks = dir.join(BLOCKS_DIR);
        let manifests = dir.join(MANIFESTS_DIR);
        for d in [&blocks, &manifests] {
            fs::create_dir_all(d).map_err(|e| PdfsError::io(d, e))?;
        }
        remove_tmp_files(&manifests)?;
        remove_tmp_files(&blocks)?;
        let mut usage = Usage::default();
        for (shard_name, shard_path, is_dir) in entries(&blocks)? {
            if !is_dir {
                continue;
            }
            remove_tmp_files(&shard_path)?;
            for (name, path, is_dir) in entries(&shard_path)? {
                // Only files the store itself would have written count.
                let Some(id) = parse_id(&name) else { continue };
                if is_dir || shard(&id) != shard_name {
                    continue;
                }
                if let Some(len) = file_len(&path)? {
                    usage.bytes += len;
                    usage.blocks += 1;
                }
            }
        }
        Ok(BlockStore {
            dir: dir.to_path_buf(),
            blocks,
            capacity: capacity_bytes,
            usage: Mutex::new(usage),
            written: Condvar::new(),
            tmp_seq: AtomicU64::new(0),
        })
    }

    /// The directory the store was opened in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a block under its id. `Ok(true)` if it was newly stored,
    /// `Ok(false)` if it was already there. Refuses a block over
    /// [`MAX_STORED_BLOCK`] bytes ([`PdfsError::TooLarge`]), one whose
    /// SHA-256 is not `id` ([`PdfsError::HashMismatch`]) and one that does
    /// not fit in the capacity ([`PdfsError::Full`]).
    ///
    /// A file already under the id with the right length is trusted without
    /// being read (a changed byte in it is found by `get`); one with the
    /// wrong length (a torn write) is replaced.
    pub fn put(&self, id: &Hash, bytes: &[u8]) -> Result<bool, PdfsError> {
        if bytes.len() > MAX_STORED_BLOCK {
            return Err(PdfsError::TooLarge {
                what: "block",
                len: bytes.len() as u64,
                max: MAX_STORED_BLOCK as u64,
            });
        }
        // Hash before taking the lock: it is the expensive part.
        let got = sha256(bytes);
        if got != *id {
            return Err(PdfsError::HashMismatch { expected: *id, got });
        }
        let need = bytes.len() as u64;
        let path = block_path(&self.blocks, id);
        let mut usage = self.lock();
        while usage.writing.contains(id) {
            usage = self.written.wait(usage).unwrap_or_else(|p| p.into_inner());
        }
        let existing = file_len(&path)?;
        if existing == Some(need) {
            return Ok(false);
        }
        // A file of the wrong length under this name is a torn or damaged
        // copy: it is replaced, and the block counts as newly stored.
        let used = usage.bytes.saturating_sub(existing.unwrap_or(0));
        if used.saturating_add(need) > self.capacity {
            return Err(PdfsError::Full {
                used: usage.bytes,
                capacity: self.capacity,
                need,
            });
        }
        usage.bytes = used + need;
        if existing.is_none() {
            usage.blocks += 1;
        }
        usage.writing.insert(*id);
        drop(usage);

        let mut reserved = Reservation {
            store: self,
            id: *id,
            need,
            existing,
            kept: false,
        };
        path.parent()
            .map_or(Ok(()), |dir| {
                fs::create_dir_all(dir).map_err(|e| PdfsError::io(dir, e))
            })
            .and_then(|()| write_atomic(&path, self.next_seq(), bytes))?;
        reserved.kept = true;
        Ok(true)
    }

    /// The block's bytes, verified against its id; `Ok(None)` if the store
    /// does not have it.
    ///
    /// A file whose contents no longer hash to its name (bit rot, a torn
    /// write, tampering) is deleted, its bytes are released from the
    /// accounting, and the block is reported as missing (`Ok(None)`), so the
    /// node fetches it again like any block it lacks. Nothing is logged.
    pub fn get(&self, id: &Hash) -> Result<Option<Vec<u8>>, PdfsError> {
        let path = block_path(&self.blocks, id);
        match read_bounded(&path, MAX_STORED_BLOCK)? {
            ReadOutcome::Missing => Ok(None),
            ReadOutcome::Bytes(bytes) if sha256(&bytes) == *id => Ok(Some(bytes)),
            ReadOutcome::Bytes(_) | ReadOutcome::Oversize => self.drop_if_corrupt(id, &path),
        }
    }

    /// Under the lock, so that a `put` of a good copy in between is not
    /// lost: checks the file again and deletes it only if it is still bad.
    fn drop_if_corrupt(&self, id: &Hash, path: &Path) -> Result<Option<Vec<u8>>, PdfsError> {
        let mut usage = self.lock();
        if usage.writing.contains(id) {
            // A fresh copy is being written over it right now.
            return Ok(None);
        }
        match read_bounded(path, MAX_STORED_BLOCK)? {
            ReadOutcome::Missing => return Ok(None),
            ReadOutcome::Bytes(bytes) if sha256(&bytes) == *id => return Ok(Some(bytes)),
            ReadOutcome::Bytes(_) | ReadOutcome::Oversize => {}
        }
        Self::remove_locked(&mut usage, path)?;
        Ok(None)
    }

    /// Whether a file for the block exists (not verified; `get` verifies).
    pub fn has(&self, id: &Hash) -> bool {
        block_path(&self.blocks, id).is_file()
    }

    /// Deletes a block; `Ok(false)` if it was not stored.
    pub fn delete(&self, id: &Hash) -> Result<bool, PdfsError> {
        Ok(self.remove_block(id)?.is_some())
    }

    /// Deletes a block and returns the bytes freed.
    fn remove_block(&self, id: &Hash) -> Result<Option<u64>, PdfsError> {
        let path = block_path(&self.blocks, id);
        let mut usage = self.lock();
        if usage.writing.contains(id) {
            // Being stored right now: the caller raced a `put`, which wins.
            return Ok(None);
        }
        Self::remove_locked(&mut usage, &path)
    }

    fn remove_locked(usage: &mut Usage, path: &Path) -> Result<Option<u64>, PdfsError> {
        let Some(len) = file_len(path)? else {
            return Ok(None);
        };
        if !remove(path)? {
            return Ok(None);
        }
        usage.bytes = usage.bytes.saturating_sub(len);
        usage.blocks = usage.blocks.saturating_sub(1);
        Ok(Some(len))
    }

    /// Bytes of stored blocks.
    pub fn used_bytes(&self) -> u64 {
        self.lock().bytes
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity
    }

    /// Number of stored blocks.
    pub fn block_count(&self) -> u64 {
        self.lock().blocks
    }

    /// Every stored block's id, sorted.
    pub fn block_ids(&self) -> Result<Vec<Hash>, PdfsError> {
        let mut ids = Vec::new();
        for (shard_name, shard_path, is_dir) in entries(&self.blocks)? {
            if !is_dir {
                continue;
            }
            for (name, _, is_dir) in entries(&shard_path)? {
                if let Some(id) = parse_id(&name).filter(|id| !is_dir && shard(id) == shard_name) {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn lock(&self) -> MutexGuard<'_, Usage> {
        // The guarded numbers change only together with the file operation
        // they describe (a `put`'s reservation is undone by its drop guard),
        // so a panic elsewhere cannot leave them half-written: a poisoned
        // lock is safe to keep using.
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_seq(&self) -> u64 {
        self.tmp_seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// The bytes a `put` counted before writing its file: released, with the
/// block's "being written" mark, when the put ends, and given back unless
/// the file was written (even if the writer panicked).
struct Reservation<'a> {
    store: &'a BlockStore,
    id: Hash,
    need: u64,
    existing: Option<u64>,
    kept: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut usage = self.store.lock();
        usage.writing.remove(&self.id);
        if !self.kept {
            // The old file (if any) is still in place.
            usage.bytes = usage.bytes.saturating_sub(self.need) + self.existing.unwrap_or(0);
            if self.existing.is_none() {
                usage.blocks = usage.blocks.saturating_sub(1);
            }
        }
        drop(usage);
        self.store.written.notify_all();
    }
}

fn remove_tmp_files(dir: &Path) -> Result<(), PdfsError> {
    for (name, path, is_dir) in entries(dir)? {
        if !is_dir && name.ends_with(TMP_SUFFIX) {
            remove(&path)?;
        }
    }
    Ok(())
}
