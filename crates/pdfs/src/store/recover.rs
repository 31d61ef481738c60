//! Rebuilding the in-memory index from the segments when the store is
//! opened.
//!
//! Segments are read oldest first, headers only. A block record is live
//! unless a tombstone kills it (tombstones name the exact record, so where
//! they stand does not matter); of several live records of one block the
//! last wins. The only way to get several is a crash between compaction
//! copying a block and deleting the segment it copied from; the older
//! copies are reported as stale, for the store to kill.
//!
//! A segment whose last record is torn or invalid is cut back to its last
//! whole record: appends are serialised, so nothing valid can follow it.
//!
//! Appends continue in the newest segment if it is aligned (or empty). A
//! packed one, written before records were aligned, is left as it is and
//! appends start a new segment: its records are not on 4 KiB boundaries,
//! and a segment never mixes the formats (see `segment`).

use super::direct::Mode;
use super::index::{Location, State};
use super::layout::{entries, parse_segment_name, segment_path};
use super::segment::{Format, Record, Scanned, scan};
use super::writer::Writer;
use crate::error::PdfsError;
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use umbra_types::Hash;

pub(super) struct Recovered {
    pub state: State,
    /// Appending to the newest segment (or to a new first one).
    pub writer: Writer,
    /// Live-looking records that a later copy of the same block replaces.
    pub stale: Vec<(Hash, Location)>,
}

/// Reads every segment under `segments` (cutting torn tails off) and
/// rebuilds the index and accounting. `roll_at` and `mode` are passed to
/// the writer.
pub(super) fn recover(
    segments: &Path,
    roll_at: u64,
    mode: Arc<Mode>,
) -> Result<Recovered, PdfsError> {
    let mut seqs: Vec<u64> = entries(segments)?
        .into_iter()
        .filter(|(_, _, is_dir)| !is_dir)
        .filter_map(|(name, _, _)| parse_segment_name(&name))
        .collect();
    seqs.sort_unstable();

    let mut state = State::default();
    let mut blocks = Vec::new();
    // (block id, segment, offset) of every killed record.
    let mut killed = HashSet::new();
    // (holder segment, target segment) of every tombstone.
    let mut tombstones = Vec::new();
    for &seq in &seqs {
        let path = segment_path(segments, seq);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| PdfsError::io(&path, e))?;
        let Scanned {
            records,
            end,
            format,
        } = scan(&file, &path, seq)?;
        let len = file.metadata().map_err(|e| PdfsError::io(&path, e))?.len();
        if end < len {
            file.set_len(end).map_err(|e| PdfsError::io(&path, e))?;
        }
        // A segment with no records takes the writer's format.
        state.found(seq, format.unwrap_or_default(), end);
        for record in records {
            match record {
                Record::Block { id, at } => blocks.push((id, at)),
                Record::Tombstone { id, target, .. } => {
                    killed.insert((id, target.0, target.1));
                    tombstones.push((seq, target.0));
                }
            }
        }
    }

    let mut stale = Vec::new();
    for (id, at) in blocks {
        if killed.contains(&(id, at.segment, at.offset)) {
            continue;
        }
        if let Some(older) = state.place(id, at) {
            stale.push((id, older));
        }
    }
    for (holder, target) in tombstones {
        state.add_kill(holder, target);
    }
    state.bytes = state.index.values().map(|at| u64::from(at.len)).sum();
    state.blocks = state.index.len() as u64;

    let mut active = seqs.last().copied().unwrap_or(1);
    if state
        .segments
        .get(&active)
        .is_some_and(|s| s.format == Format::Packed)
    {
        active = active.checked_add(1).ok_or_else(|| {
            PdfsError::io(
                segment_path(segments, active),
                std::io::Error::other("no segment number left"),
            )
        })?;
    }
    let len = state.segments.get(&active).map_or(0, |s| s.size);
    state.appended(active, 0);
    let writer = Writer::open(segments, active, len, roll_at, mode)?;
    Ok(Recovered {
        state,
        writer,
        stale,
    })
}
