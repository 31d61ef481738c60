//! Compaction: getting back the disk space of dead records.
//!
//! A sealed segment (any but the active one) more than half dead is
//! rewritten: its live block records are copied to the active segment (so
//! a packed segment, see `segment`, becomes aligned records), its
//! tombstones that still kill a record of an existing segment are copied
//! too, and the file is deleted. Segments are done oldest first, so a
//! tombstone whose target segment was just deleted is dropped rather than
//! copied. Only sealed segments are compacted: the active one may hold up
//! to a segment of dead records until it is sealed.
//!
//! Records are found by reading the segment's headers; live blocks behind a
//! header damaged on disk are found through the index. Tombstones behind
//! one are lost, which can only bring back a deleted block after a restart
//! (see the crash note in `mod.rs`).
//!
//! Each record is copied under the writer's lock on its own, so `put`s wait
//! for one record at a time, not for a whole segment. A record is read and
//! hashed before the lock is taken; a block whose bytes rotted on disk is
//! dropped as `get` would drop it instead of being carried forward.

use super::BlockStore;
use super::index::Location;
use super::layout::{remove, segment_path};
use super::segment::{Record, scan};
use crate::error::PdfsError;
use std::fs::File;
use std::io::ErrorKind;
use umbra_types::{Hash, sha256};

impl BlockStore {
    /// Compacts every sealed segment more than half dead, oldest first.
    /// What is due is looked at again after each segment: deleting one can
    /// make a later one due (its tombstones that killed records of the
    /// deleted one are dead now). Segments sealed during the pass wait for
    /// the next one, so a pass always ends.
    pub(super) fn compact(&self) -> Result<(), PdfsError> {
        let _one = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        let end = self.lock().active;
        let mut from = 0;
        loop {
            // Bound first: a guard in the `while let` scrutinee would be
            // held through the body.
            let due = self.lock().next_compactable(from, end);
            let Some(seq) = due else {
                return Ok(());
            };
            self.compact_segment(seq)?;
            from = seq + 1;
        }
    }

    fn compact_segment(&self, seq: u64) -> Result<(), PdfsError> {
        let path = segment_path(&self.segments, seq);
        let file = match File::open(&path) {
            Ok(f) => Some(f),
            // Deleted behind the store's back: nothing to copy.
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(PdfsError::io(&path, e)),
        };
        if let Some(file) = &file {
            for record in scan(file, &path, seq)?.records {
                match record {
                    Record::Block { id, at } => self.move_block(&id, at)?,
                    Record::Tombstone { id, target, .. } => {
                        self.carry_tombstone(seq, &id, target)?;
                    }
                }
            }
            // A header damaged on disk since it was written ends the scan
            // early, but the index still knows where the live blocks behind
            // it are (looking for them walks the whole index, so only then).
            let stranded: Vec<(Hash, Location)> = {
                let state = self.lock();
                if state.segments.get(&seq).is_some_and(|s| s.live > 0) {
                    state
                        .index
                        .iter()
                        .filter(|(_, at)| at.segment == seq)
                        .map(|(id, at)| (*id, *at))
                        .collect()
                } else {
                    Vec::new()
                }
            };
            for (id, at) in stranded {
                self.move_block(&id, at)?;
            }
        }
        // Every record that matters is elsewhere now. The file goes first:
        // if it cannot be deleted, the store keeps counting it (all dead, so
        // the next compaction tries again) and keeps the tombstones that
        // kill its records.
        remove(&path)?;
        self.lock().forget_segment(seq);
        self.readers.forget(seq);
        Ok(())
    }

    /// Copies the block record at `at` to the active segment if it is the
    /// block's live one.
    fn move_block(&self, id: &Hash, at: Location) -> Result<(), PdfsError> {
        if self.live_at(id) != Some(at) {
            return Ok(());
        }
        // Read as `get` reads (the segment exists until this compaction
        // deletes it), and laid out before the writer's lock is taken.
        let record = match self.read_block(&at)? {
            Some(bytes) if sha256(&bytes) == *id => Some(self.lay_out_block(id, &[&bytes])?),
            _ => None,
        };
        let mut w = self.writer();
        if self.live_at(id) != Some(at) {
            // Deleted (or dropped by a `get`) while it was read.
            return Ok(());
        }
        match record {
            Some(record) => drop(self.append_block(&mut w, id, &record)?),
            None => {
                self.kill(&mut w, id, at)?;
            }
        }
        Ok(())
    }

    /// Copies a tombstone of segment `seq` to the active segment if the
    /// segment holding the record it kills still exists.
    fn carry_tombstone(&self, seq: u64, id: &Hash, target: (u64, u64)) -> Result<(), PdfsError> {
        let (segment, offset) = target;
        // Segments are deleted only by compaction, which is running here, so
        // this cannot change before the tombstone is copied.
        if segment == seq || !self.lock().segments.contains_key(&segment) {
            return Ok(());
        }
        let record = self.lay_out_tombstone(id, segment, offset)?;
        // Held until the accounting is updated too.
        let mut w = self.writer();
        let new = w.append(&record)?;
        let mut state = self.lock();
        state.appended(new.segment, new.span);
        state.add_kill(new.segment, segment);
        Ok(())
    }
}
