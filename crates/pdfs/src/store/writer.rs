//! Appending records to the active segment, and starting a new one when it
//! is full.
//!
//! There is one writer per store, behind its own mutex: appends are
//! serialised, so a segment is records back to back with no holes, and
//! only its last record can be torn.

use super::layout::segment_path;
use crate::error::PdfsError;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Segments are rolled once they reach about this size: big enough that
/// opening files costs nothing next to writing them, small enough that
/// compacting one is quick and frees space soon.
pub(super) const SEGMENT_BYTES: u64 = 64 << 20;

#[derive(Debug)]
pub(super) struct Writer {
    segments: PathBuf,
    /// The active segment.
    seq: u64,
    file: File,
    /// Bytes of whole records in it; the next one goes here.
    len: u64,
    /// A segment is rolled before a record would take it past this.
    roll_at: u64,
    /// A failed append could not be cut off: the next one starts a new
    /// segment, leaving the torn record last in this one (where `open`
    /// finds and removes it).
    torn: bool,
    #[cfg(test)]
    pub fail_next: bool,
}

impl Writer {
    /// Continues segment `seq`, whose whole records end at `len`, or starts
    /// it if it does not exist.
    pub fn open(segments: &Path, seq: u64, len: u64, roll_at: u64) -> Result<Self, PdfsError> {
        let path = segment_path(segments, seq);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| PdfsError::io(&path, e))?;
        Ok(Writer {
            segments: segments.to_path_buf(),
            seq,
            file,
            len,
            roll_at,
            torn: false,
            #[cfg(test)]
            fail_next: false,
        })
    }

    /// Appends a record (`header` then `payload`); returns its segment and
    /// offset. On error nothing was appended.
    pub fn append(&mut self, header: &[u8], payload: &[u8]) -> Result<(u64, u64), PdfsError> {
        let len = (header.len() + payload.len()) as u64;
        if self.torn || (self.len > 0 && self.len + len > self.roll_at) {
            self.roll()?;
        }
        let at = self.len;
        let mut written = self.file.write_all_at(header, at);
        if written.is_ok() {
            written = self.fail_if_asked();
        }
        if written.is_ok() {
            written = self.file.write_all_at(payload, at + header.len() as u64);
        }
        if let Err(e) = written {
            // Cut the partial record off, so that the next one follows the
            // last whole record with nothing in between.
            if self.file.set_len(at).is_err() {
                self.torn = true;
            }
            return Err(PdfsError::io(self.path(), e));
        }
        self.len = at + len;
        Ok((self.seq, at))
    }

    fn roll(&mut self) -> Result<(), PdfsError> {
        let Some(next) = self.seq.checked_add(1) else {
            // Only a segment named ffff... (not one the store made) gets here.
            return Err(PdfsError::io(
                self.path(),
                std::io::Error::other("no segment number left"),
            ));
        };
        let path = segment_path(&self.segments, next);
        self.file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| PdfsError::io(&path, e))?;
        self.seq = next;
        self.len = 0;
        self.torn = false;
        Ok(())
    }

    fn path(&self) -> PathBuf {
        segment_path(&self.segments, self.seq)
    }

    #[cfg(test)]
    fn fail_if_asked(&mut self) -> std::io::Result<()> {
        if std::mem::take(&mut self.fail_next) {
            return Err(std::io::Error::other("injected failure"));
        }
        Ok(())
    }

    #[cfg(not(test))]
    fn fail_if_asked(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
