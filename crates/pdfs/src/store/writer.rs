//! Appending records to the active segment, and starting a new one when it
//! is full.
//!
//! There is one writer per store, behind its own mutex: appends are
//! serialised, so a segment is records one after the other, each at the
//! next 4 KiB boundary, and only its last record can be torn.
//!
//! Each record is laid out (header, payload, zero padding) in an aligned
//! buffer from the store's pool ([`Laid`]) before the writer's lock is
//! taken, so that concurrent `put`s copy their blocks in parallel and hold
//! the lock only for the write: a single positional write, through
//! `O_DIRECT` where the filesystem allows it (see `direct` for why). Each
//! `append` writes its record before it returns, rather than gathering
//! several into one larger write: the device is no faster for writes
//! larger than a block (`dd … oflag=direct`, 256 KiB to 4 MiB: 1.1–1.2
//! GB/s alike on the benchmark VM), and a record held back in memory would
//! need `get` to look there, and would be lost with the process, not only
//! with the machine.

use super::direct::{Buffers, Mode, Pooled, is_refusal};
use super::layout::segment_path;
use super::segment::{ALIGN, Format, HEADER_LEN, Header};
use crate::error::PdfsError;
use crate::limits::MAX_STORED_BLOCK;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Segments are rolled once they reach about this size: big enough that
/// opening files costs nothing next to writing them, small enough that
/// compacting one is quick and frees space soon.
pub(super) const SEGMENT_BYTES: u64 = 64 << 20;

/// A record laid out as [`Writer::append`] writes it: header, payload and
/// zero padding up to its span in an aligned segment.
#[derive(Debug)]
pub(super) struct Laid<'a> {
    buf: Pooled<'a>,
    span: usize,
}

impl<'a> Laid<'a> {
    /// `header` and `payload` (consecutive parts, together as long as the
    /// header says, at most `MAX_STORED_BLOCK` bytes) laid out in a buffer
    /// of `pool`.
    pub fn new(pool: &'a Buffers, header: &Header, payload: &[&[u8]]) -> Result<Self, PdfsError> {
        let span = Format::Aligned.span(header.len) as usize;
        let total = payload.iter().map(|p| p.len()).sum::<usize>();
        let mut buf = pool.take();
        let laid = (total == header.len as usize)
            .then_some(())
            .and_then(|()| buf.as_mut_slice().get_mut(..span))
            .and_then(|record| {
                let (head, mut rest) = record.split_at_mut_checked(HEADER_LEN)?;
                head.copy_from_slice(&header.encode(Format::Aligned));
                for part in payload {
                    let (body, after) = rest.split_at_mut_checked(part.len())?;
                    body.copy_from_slice(part);
                    rest = after;
                }
                rest.fill(0);
                Some(())
            });
        match laid {
            Some(()) => Ok(Laid { buf, span }),
            None => Err(PdfsError::TooLarge {
                what: "record",
                len: total as u64,
                max: MAX_STORED_BLOCK as u64,
            }),
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.as_slice().get(..self.span).unwrap_or_default()
    }
}

/// Where [`Writer::append`] put a record.
#[derive(Clone, Copy, Debug)]
pub(super) struct Appended {
    pub segment: u64,
    pub offset: u64,
    /// Bytes it takes, padding included.
    pub span: u64,
}

#[derive(Debug)]
pub(super) struct Writer {
    segments: PathBuf,
    /// The active segment: always an aligned one.
    seq: u64,
    file: File,
    /// Whether `file` was opened with `O_DIRECT`.
    direct: bool,
    mode: Arc<Mode>,
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
    /// Continues aligned segment `seq`, whose whole records end at `len`,
    /// or starts it if it does not exist.
    pub fn open(
        segments: &Path,
        seq: u64,
        len: u64,
        roll_at: u64,
        mode: Arc<Mode>,
    ) -> Result<Self, PdfsError> {
        let path = segment_path(segments, seq);
        let (file, direct) = mode
            .open(
                OpenOptions::new().write(true).create(true).truncate(false),
                &path,
            )
            .map_err(|e| PdfsError::io(&path, e))?;
        Ok(Writer {
            segments: segments.to_path_buf(),
            seq,
            file,
            direct,
            mode,
            len,
            roll_at,
            torn: false,
            #[cfg(test)]
            fail_next: false,
        })
    }

    /// Whether appends bypass the page cache.
    #[cfg(test)]
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Appends a record; returns where it is. On error nothing was
    /// appended.
    pub fn append(&mut self, record: &Laid<'_>) -> Result<Appended, PdfsError> {
        let span = record.span as u64;
        // Whole records of an aligned segment end on a boundary; anything
        // else (never expected) must not be continued with direct writes.
        if self.torn
            || !self.len.is_multiple_of(ALIGN)
            || (self.len > 0 && self.len + span > self.roll_at)
        {
            self.roll()?;
        }
        let at = self.len;
        if let Err(e) = self.write(record.bytes(), at) {
            // Cut the partial record off, so that the next one follows the
            // last whole record with nothing in between.
            if self.file.set_len(at).is_err() {
                self.torn = true;
            }
            return Err(PdfsError::io(self.path(), e));
        }
        self.len = at + span;
        Ok(Appended {
            segment: self.seq,
            offset: at,
            span,
        })
    }

    /// Writes `record` at `at`. If the filesystem refuses the direct write,
    /// the file is reopened buffered and the write retried.
    fn write(&mut self, record: &[u8], at: u64) -> io::Result<()> {
        match self.write_once(record, at) {
            Err(e) if self.direct && is_refusal(&e) => {
                let path = self.path();
                self.mode.refused(&path, &e);
                let (file, direct) = self.mode.open(OpenOptions::new().write(true), &path)?;
                self.file = file;
                self.direct = direct;
                self.write_once(record, at)
            }
            other => other,
        }
    }

    fn write_once(&mut self, record: &[u8], at: u64) -> io::Result<()> {
        // Tests: fail after writing the record's first block (a torn record).
        #[cfg(test)]
        {
            if std::mem::take(&mut self.fail_next) {
                let head = record.get(..ALIGN as usize).unwrap_or_default();
                self.file.write_all_at(head, at)?;
                return Err(io::Error::other("injected failure"));
            }
        }
        self.file.write_all_at(record, at)
    }

    fn roll(&mut self) -> Result<(), PdfsError> {
        let Some(next) = self.seq.checked_add(1) else {
            // Only a segment named ffff... (not one the store made) gets here.
            return Err(PdfsError::io(
                self.path(),
                io::Error::other("no segment number left"),
            ));
        };
        let path = segment_path(&self.segments, next);
        let (file, direct) = self
            .mode
            .open(OpenOptions::new().write(true).create_new(true), &path)
            .map_err(|e| PdfsError::io(&path, e))?;
        self.file = file;
        self.direct = direct;
        self.seq = next;
        self.len = 0;
        self.torn = false;
        Ok(())
    }

    fn path(&self) -> PathBuf {
        segment_path(&self.segments, self.seq)
    }
}
