//! The local block store of a storage node (and the client's cache): blocks
//! appended to a few large segment files, with capacity accounting, plus the
//! manifests of the contents they belong to.
//!
//! Why segments: creating a file costs about a millisecond on ext4, far more
//! than writing a 256 KiB block into the page cache, so one file per block
//! capped uploads at a few hundred MB/s. A `put` now costs the block's hash
//! plus one append. Layout and record format: `layout` and `segment`.
//!
//! Segment records are written and read with `O_DIRECT`, bypassing the page
//! cache, where the filesystem allows it, and through it where not (`direct`
//! says why, and how a refusal is handled). That is why records start on
//! 4 KiB boundaries.
//!
//! Every block is verified on the way in (its SHA-256 must be its id) and on
//! the way out (a record changed on disk is dropped and reported missing),
//! so the store never serves bytes that do not match their name.
//!
//! In memory (`index`): where each block's live record is, how much of each
//! segment is still needed, and the bytes and blocks stored. `delete`,
//! `collect` and a corrupt record found by `get` append a tombstone; records
//! are never changed in place. `collect` then compacts sealed segments more
//! than half dead (`compact`). Capacity counts the bytes of live blocks
//! only, so the segments on disk take more: record headers and padding
//! (each record is rounded up to 4 KiB: 1.5 % more for a full block, 4 KiB
//! for a tombstone), tombstones, and dead records until their segment is
//! compacted (up to half of each sealed segment, plus the active one).
//!
//! Concurrency: the accounting lives behind one mutex, never held during
//! I/O, so `get` and `has` never wait for a write. Appends go through a
//! second mutex, the writer's (`writer`), so records follow each other with
//! nothing but padding between them; every change to the index is made
//! while holding it, so the order of records on disk is the order of the
//! changes. A `put` hashes its block before taking any lock, then reserves
//! its bytes and marks the block as being written under the accounting
//! lock, so concurrent `put`s of one block count it once and the store
//! never goes past its capacity; a failed append gives the reservation
//! back. A `put` returns once its record is written (not merely queued), so
//! a `get` right after finds it on disk. Reads use positional reads on shared
//! handles (`readers`). One `BlockStore` per directory at a time: a second
//! process appending to the same segments would corrupt them.
//!
//! No fsync, for blocks or manifests (a direct write has reached the device
//! when it returns, but not necessarily its stable storage, and the file's
//! new length is not journalled yet): a record lost or torn by a crash is
//! either cut off when the store is next opened (a torn last record) or
//! caught by the hash check on read, and the node fetches the block again
//! like any block it lacks. A crash can also undo a recent delete (its
//! tombstone not yet on disk): the block comes back, to be deleted again by
//! the next `collect` if it is garbage, or dropped again by `get` if it was
//! corrupt.

mod compact;
mod direct;
mod gc;
mod index;
mod layout;
mod manifests;
mod migrate;
mod readers;
mod recover;
mod segment;
#[cfg(test)]
mod tests;
mod writer;

pub use gc::GcReport;

use crate::error::PdfsError;
use crate::limits::MAX_STORED_BLOCK;
use direct::{Buffers, Io, Mode};
use index::{Location, State};
use layout::{MANIFESTS_DIR, SEGMENTS_DIR, remove_tmp_files};
use readers::Readers;
use segment::{Header, encode_target};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use umbra_types::{Hash, sha256, sha256_parts};
use writer::{Laid, SEGMENT_BYTES, Writer};

/// Blocks on disk under a byte capacity. `Send + Sync`: share it in an `Arc`.
#[derive(Debug)]
pub struct BlockStore {
    dir: PathBuf,
    segments: PathBuf,
    capacity: u64,
    state: Mutex<State>,
    /// Signalled when a block leaves [`State::writing`].
    written: Condvar,
    /// Held for every append and every change to the index (lock it before
    /// `state`, never the other way round).
    writer: Mutex<Writer>,
    readers: Readers,
    /// Aligned buffers for the records being written and read.
    buffers: Buffers,
    /// One compaction at a time.
    compacting: Mutex<()>,
    /// Numbers manifests' temporary files so concurrent writers never share
    /// one.
    tmp_seq: AtomicU64,
}

impl BlockStore {
    /// Opens (creating if needed) the store in `dir`: `dir/segments` and
    /// `dir/manifests`. Reads every segment's record headers to rebuild the
    /// index, cutting off a torn last record; removes temporary files left
    /// by an interrupted manifest write; and moves blocks of the old
    /// one-file-per-block layout (`dir/blocks`) into segments. Opening with
    /// a smaller capacity than is used is allowed; `put` then refuses until
    /// space is freed.
    ///
    /// Segment files are written and read with `O_DIRECT` unless the
    /// filesystem refuses it (then through the page cache; logged once).
    pub fn open(dir: &Path, capacity_bytes: u64) -> Result<Self, PdfsError> {
        Self::open_with(dir, capacity_bytes, SEGMENT_BYTES, Io::Direct)
    }

    /// [`BlockStore::open`] with segments rolled at `roll_at` bytes (tests
    /// use small ones to exercise rolling and compaction) and segment I/O
    /// done as `io` asks (tests also exercise the buffered fallback).
    fn open_with(dir: &Path, capacity_bytes: u64, roll_at: u64, io: Io) -> Result<Self, PdfsError> {
        let segments = dir.join(SEGMENTS_DIR);
        let manifests = dir.join(MANIFESTS_DIR);
        for d in [&segments, &manifests] {
            fs::create_dir_all(d).map_err(|e| PdfsError::io(d, e))?;
        }
        remove_tmp_files(&manifests)?;
        let mode = Arc::new(Mode::new(io));
        let recovered = recover::recover(&segments, roll_at, Arc::clone(&mode))?;
        let store = BlockStore {
            dir: dir.to_path_buf(),
            readers: Readers::new(&segments, mode),
            segments,
            capacity: capacity_bytes,
            state: Mutex::new(recovered.state),
            written: Condvar::new(),
            writer: Mutex::new(recovered.writer),
            buffers: Buffers::default(),
            compacting: Mutex::new(()),
            tmp_seq: AtomicU64::new(0),
        };
        if !recovered.stale.is_empty() {
            // Older copies of a block left by a compaction a crash
            // interrupted: killed now, so deleting the block later cannot
            // bring one of them back.
            let mut w = store.writer();
            for (id, at) in recovered.stale {
                drop(store.append_tombstone(&mut w, &id, at)?);
            }
        }
        store.migrate_legacy()?;
        Ok(store)
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
    /// A record already stored under the id with the right length is
    /// trusted without being read (a changed byte in it is found by `get`);
    /// one with the wrong length (damaged on disk) is dropped and replaced.
    pub fn put(&self, id: &Hash, bytes: &[u8]) -> Result<bool, PdfsError> {
        self.put_parts(id, &[bytes])
    }

    /// [`BlockStore::put`] of a block given as consecutive parts (the frames
    /// an upload arrived in): hashed and copied into its record part by
    /// part, so the caller need not join them first.
    pub fn put_parts(&self, id: &Hash, parts: &[&[u8]]) -> Result<bool, PdfsError> {
        let total = parts.iter().map(|p| p.len()).sum::<usize>();
        let too_large = || PdfsError::TooLarge {
            what: "block",
            len: total as u64,
            max: MAX_STORED_BLOCK as u64,
        };
        if total > MAX_STORED_BLOCK {
            return Err(too_large());
        }
        let len = u32::try_from(total).map_err(|_| too_large())?;
        // Hash before taking any lock: it is the expensive part.
        let got = sha256_parts(parts);
        if got != *id {
            return Err(PdfsError::HashMismatch { expected: *id, got });
        }
        let need = u64::from(len);
        let mut reserved = loop {
            let mut state = self.lock();
            while state.writing.contains(id) {
                state = self.written.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            match state.index.get(id).copied() {
                Some(at) if at.len == len => return Ok(false),
                Some(at) => {
                    // Not this block's bytes (a header damaged on disk):
                    // dropped, then stored as new.
                    drop(state);
                    self.kill_if_still(id, at)?;
                    continue;
                }
                None => {}
            }
            if state.bytes.saturating_add(need) > self.capacity {
                return Err(PdfsError::Full {
                    used: state.bytes,
                    capacity: self.capacity,
                    need,
                });
            }
            state.bytes += need;
            state.blocks += 1;
            state.writing.insert(*id);
            break Reservation {
                store: self,
                id: *id,
                need,
                kept: false,
            };
        };
        // Copied into its record before the writer's lock is taken.
        let record = self.lay_out_block(id, parts)?;
        let mut w = self.writer();
        let mut state = self.append_block(&mut w, id, &record)?;
        state.writing.remove(id);
        reserved.kept = true;
        Ok(true)
    }

    /// The block's bytes, verified against its id; `Ok(None)` if the store
    /// does not have it.
    ///
    /// A record whose bytes no longer hash to its id (bit rot, a torn
    /// write, tampering) is dropped (a tombstone is appended), its bytes are
    /// released from the accounting, and the block is reported as missing
    /// (`Ok(None)`), so the node fetches it again like any block it lacks.
    /// Nothing is logged.
    pub fn get(&self, id: &Hash) -> Result<Option<Vec<u8>>, PdfsError> {
        let Some(at) = self.live_at(id) else {
            return Ok(None);
        };
        if let Some(bytes) = self.read_block(&at)?
            && sha256(&bytes) == *id
        {
            return Ok(Some(bytes));
        }
        self.drop_if_corrupt(id, at)
    }

    /// Under the writer's lock, so that nothing moves or replaces the record
    /// meanwhile: drops the block's record if it is still the bad one read
    /// at `seen`. If the block was moved by compaction or stored again since
    /// (the file read may even be gone), the record it has now is read
    /// instead and returned if good.
    fn drop_if_corrupt(&self, id: &Hash, seen: Location) -> Result<Option<Vec<u8>>, PdfsError> {
        let mut w = self.writer();
        let Some(at) = self.live_at(id) else {
            return Ok(None);
        };
        if at != seen
            && let Some(bytes) = self.read_block(&at)?
            && sha256(&bytes) == *id
        {
            return Ok(Some(bytes));
        }
        self.kill(&mut w, id, at)?;
        Ok(None)
    }

    /// Whether the store has a record for the block (not verified; `get`
    /// verifies).
    pub fn has(&self, id: &Hash) -> bool {
        self.lock().index.contains_key(id)
    }

    /// Deletes a block; `Ok(false)` if it was not stored.
    pub fn delete(&self, id: &Hash) -> Result<bool, PdfsError> {
        Ok(self.remove_block(id)?.is_some())
    }

    /// Deletes a block and returns the bytes freed. A block being stored
    /// right now is not in the index yet, so a delete racing its `put`
    /// finds nothing and the put wins.
    fn remove_block(&self, id: &Hash) -> Result<Option<u64>, PdfsError> {
        let Some(at) = self.live_at(id) else {
            return Ok(None);
        };
        self.kill_if_still(id, at)
    }

    /// Drops the block's record if it is still the one at `seen`; the bytes
    /// freed, `None` if it had changed.
    fn kill_if_still(&self, id: &Hash, seen: Location) -> Result<Option<u64>, PdfsError> {
        let mut w = self.writer();
        if self.live_at(id) != Some(seen) {
            return Ok(None);
        }
        self.kill(&mut w, id, seen).map(Some)
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
        let mut ids: Vec<Hash> = self.lock().index.keys().copied().collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// The record of block `id`, laid out for [`BlockStore::append_block`]
    /// (which needs no more than the writer's lock).
    fn lay_out_block(&self, id: &Hash, parts: &[&[u8]]) -> Result<BlockRecord<'_>, PdfsError> {
        // Callers bound the parts by MAX_STORED_BLOCK.
        let total = parts.iter().map(|p| p.len()).sum::<usize>();
        let len = u32::try_from(total).map_err(|_| PdfsError::TooLarge {
            what: "block",
            len: total as u64,
            max: MAX_STORED_BLOCK as u64,
        })?;
        let laid = Laid::new(&self.buffers, &Header::block(*id, len), parts)?;
        Ok(BlockRecord { laid, len })
    }

    /// Appends a block record and makes it the block's live one (replacing
    /// an earlier record, when compaction moves a block). Returns the
    /// accounting, still locked, for the caller to count the block if new.
    fn append_block<'s>(
        &'s self,
        w: &mut Writer,
        id: &Hash,
        record: &BlockRecord<'_>,
    ) -> Result<MutexGuard<'s, State>, PdfsError> {
        let new = w.append(&record.laid)?;
        let at = Location {
            segment: new.segment,
            offset: new.offset,
            len: record.len,
        };
        let mut state = self.lock();
        state.appended(new.segment, new.span);
        state.place(*id, at);
        Ok(state)
    }

    /// Appends a tombstone killing the block's record at `at` and removes
    /// the block. The caller holds the writer and has checked under it that
    /// `at` is the block's live record. Returns the bytes freed.
    fn kill(&self, w: &mut Writer, id: &Hash, at: Location) -> Result<u64, PdfsError> {
        let mut state = self.append_tombstone(w, id, at)?;
        state.remove(id);
        Ok(u64::from(at.len))
    }

    /// Appends a tombstone killing the record at `at`, and counts it.
    fn append_tombstone(
        &self,
        w: &mut Writer,
        id: &Hash,
        at: Location,
    ) -> Result<MutexGuard<'_, State>, PdfsError> {
        let new = w.append(&self.lay_out_tombstone(id, at.segment, at.offset)?)?;
        let mut state = self.lock();
        state.appended(new.segment, new.span);
        state.add_kill(new.segment, at.segment);
        Ok(state)
    }

    /// The bytes of the record at `at`; `None` if its segment is gone or
    /// too short (deleted or truncated behind the store's back), which a
    /// caller treats like bytes that do not match.
    fn read_block(&self, at: &Location) -> Result<Option<Vec<u8>>, PdfsError> {
        self.readers.read(at, &self.buffers, || {
            self.lock().segments.contains_key(&at.segment)
        })
    }

    /// The record of a tombstone of block `id` killing the record at
    /// (`segment`, `offset`).
    fn lay_out_tombstone(
        &self,
        id: &Hash,
        segment: u64,
        offset: u64,
    ) -> Result<Laid<'_>, PdfsError> {
        Laid::new(
            &self.buffers,
            &Header::tombstone(*id),
            &[&encode_target(segment, offset)],
        )
    }

    fn live_at(&self, id: &Hash) -> Option<Location> {
        self.lock().index.get(id).copied()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The accounting changes only together with the append it
        // describes, and a `put`'s reservation is undone by its drop guard,
        // so a panic elsewhere cannot leave it half-written: a poisoned lock
        // is safe to keep using.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        // The writer advances its end only after a whole record is written,
        // so after a panic the next append overwrites any partial one.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_seq(&self) -> u64 {
        self.tmp_seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// A block's record laid out by [`BlockStore::lay_out_block`].
struct BlockRecord<'a> {
    laid: Laid<'a>,
    len: u32,
}

/// The bytes a `put` counted before appending its block: released, with
/// the block's "being written" mark, when the put ends, and given back
/// unless the block was stored (even if the writer panicked).
struct Reservation<'a> {
    store: &'a BlockStore,
    id: Hash,
    need: u64,
    /// Stored: the put already cleared the mark with the index update.
    kept: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let mut state = self.store.lock();
            state.writing.remove(&self.id);
            state.bytes = state.bytes.saturating_sub(self.need);
            state.blocks = state.blocks.saturating_sub(1);
        }
        self.store.written.notify_all();
    }
}
