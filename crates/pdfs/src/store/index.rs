//! What the store knows in memory: where each block's live record is, how
//! much of each segment is still needed, and the capacity accounting.
//!
//! Rebuilt from the segments on every open; the disk holds nothing else.

use super::segment::{Format, HEADER_LEN, TOMBSTONE_PAYLOAD};
use std::collections::{BTreeMap, HashMap, HashSet};
use umbra_types::Hash;

/// Where a block record is: segment, offset of its header, and the block's
/// length (its bytes follow the header). What the record takes on disk
/// depends on its segment's format (`SegmentStats::format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Location {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
}

impl Location {
    /// Where the block's bytes start.
    pub fn data_offset(&self) -> u64 {
        self.offset + HEADER_LEN as u64
    }
}

/// The bytes of one segment, by what they are still good for.
#[derive(Debug, Default)]
pub(super) struct SegmentStats {
    /// How its records are laid out (aligned unless read from a packed
    /// segment).
    pub format: Format,
    /// Bytes of records appended (the file's length, unless an append is
    /// under way), padding included.
    pub size: u64,
    /// Bytes of the block records the index points to, their padding
    /// included.
    pub live: u64,
    /// Bytes of tombstones in this segment that kill a record of another,
    /// still existing segment, by that segment: compaction must keep them.
    /// When that segment is deleted they become dead.
    pub kills: HashMap<u64, u64>,
}

impl SegmentStats {
    /// Bytes compaction would free: everything neither live nor a needed
    /// tombstone.
    pub fn dead(&self) -> u64 {
        self.size
            .saturating_sub(self.live)
            .saturating_sub(self.kills.values().sum())
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// The live record of every stored block.
    pub index: HashMap<Hash, Location>,
    /// Every segment with records, by sequence number.
    pub segments: BTreeMap<u64, SegmentStats>,
    /// The segment appends go to: every one before it is sealed.
    pub active: u64,
    /// Bytes of stored blocks (their payloads, not headers, tombstones or
    /// dead records): what the capacity limits.
    pub bytes: u64,
    pub blocks: u64,
    /// Blocks a `put` has counted in `bytes` and `blocks` but not yet put in
    /// the index.
    pub writing: HashSet<Hash>,
}

impl State {
    /// Counts a record of `len` bytes appended to `segment` (an aligned
    /// one: the writer writes no other).
    pub fn appended(&mut self, segment: u64, len: u64) {
        self.segments.entry(segment).or_default().size += len;
        self.active = self.active.max(segment);
    }

    /// Counts a segment found on disk with `size` bytes of whole records,
    /// before any of them is placed.
    pub fn found(&mut self, segment: u64, format: Format, size: u64) {
        self.segments.insert(
            segment,
            SegmentStats {
                format,
                size,
                ..SegmentStats::default()
            },
        );
        self.active = self.active.max(segment);
    }

    /// Bytes the block record at `at` takes in its segment (0 if the
    /// segment is not known).
    #[cfg(test)]
    pub fn span(&self, at: &Location) -> u64 {
        self.segments
            .get(&at.segment)
            .map_or(0, |s| s.format.span(at.len))
    }

    /// Makes `at` the block's live record; returns the one it replaces.
    /// Does not touch `bytes` and `blocks` (the caller counts the block).
    pub fn place(&mut self, id: Hash, at: Location) -> Option<Location> {
        if let Some(s) = self.segments.get_mut(&at.segment) {
            s.live += s.format.span(at.len);
        }
        let old = self.index.insert(id, at);
        if let Some(old) = old {
            self.unlive(&old);
        }
        old
    }

    /// Removes a block from the index and from the accounting.
    pub fn remove(&mut self, id: &Hash) -> Option<Location> {
        let at = self.index.remove(id)?;
        self.unlive(&at);
        self.bytes = self.bytes.saturating_sub(u64::from(at.len));
        self.blocks = self.blocks.saturating_sub(1);
        Some(at)
    }

    fn unlive(&mut self, at: &Location) {
        if let Some(s) = self.segments.get_mut(&at.segment) {
            s.live = s.live.saturating_sub(s.format.span(at.len));
        }
    }

    /// Counts a tombstone in `holder` that kills a record in `target`. One
    /// that kills a record of its own segment, or of one already deleted,
    /// protects nothing and is dead from the start.
    pub fn add_kill(&mut self, holder: u64, target: u64) {
        if holder == target || !self.segments.contains_key(&target) {
            return;
        }
        if let Some(s) = self.segments.get_mut(&holder) {
            let span = s.format.span(TOMBSTONE_PAYLOAD as u32);
            *s.kills.entry(target).or_default() += span;
        }
    }

    /// Forgets a deleted segment: the tombstones that killed its records are
    /// dead now.
    pub fn forget_segment(&mut self, seq: u64) {
        self.segments.remove(&seq);
        for s in self.segments.values_mut() {
            s.kills.remove(&seq);
        }
    }

    /// The oldest segment from `from` on and before `end` that is worth
    /// compacting: more than half dead, or empty.
    pub fn next_compactable(&self, from: u64, end: u64) -> Option<u64> {
        self.segments
            .range(from..end)
            .find(|(_, s)| s.size == 0 || s.dead() > s.size / 2)
            .map(|(seq, _)| *seq)
    }
}
