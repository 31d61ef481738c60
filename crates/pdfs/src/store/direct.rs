//! Segment I/O that bypasses the page cache (`O_DIRECT`), and the buffered
//! I/O it falls back to where the filesystem refuses it.
//!
//! Why: on a VM that hands the memory its guest frees back to the host
//! (Linux `page_reporting`), every write into page-cache pages the kernel
//! has not used recently faults memory in from the host, and buffered
//! writes ran at 330–480 MB/s where direct ones reach 1.1–1.7 GB/s; reads
//! likewise (docs/BENCHMARKS.md). A node rarely reads a block again soon
//! after storing it, so the page cache bought little for what it cost.
//!
//! The price: a `put` now waits for the disk (about 1 GB/s here, whatever
//! the size of the writes) instead of returning once its block is copied
//! into memory and leaving the disk write for later. When the VM's freed
//! memory has not gone back to the host yet, that copy is fast and the
//! buffered store was faster (1 GiB put in-process at 1.6–1.9 GB/s against
//! 0.9–1.1 GB/s direct); when it has, buffered ran at 200–280 MB/s. Direct
//! I/O gives the same speed in both cases.
//!
//! `O_DIRECT` transfers need their file offset, length and memory address
//! aligned to the device's logical block size. [`ALIGN`] (4 KiB) covers
//! every common device: records start at multiples of it (see `segment`),
//! each is laid out whole, padding included, in an [`AlignedBuf`] and
//! written from there, and [`read_direct`] reads the aligned range around
//! the wanted bytes into one and copies them out. The buffers are reused
//! ([`Buffers`]): a fresh 260 KiB for every `put` and `get` would mean
//! faulting in fresh memory every time, the very cost `O_DIRECT` avoids.
//!
//! A filesystem without `O_DIRECT` refuses it with `EINVAL`, when the file
//! is opened or at its first transfer. The store then switches to buffered
//! I/O for good (same files, same format) and logs it once ([`Mode`]).

use super::segment::{ALIGN, HEADER_LEN};
use crate::limits::MAX_STORED_BLOCK;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

const ALIGN_USIZE: usize = ALIGN as usize;

/// The length of a pooled buffer: room for any record, and for the aligned
/// range around any block's bytes wherever its record starts (a packed
/// record need not start on a boundary).
pub(super) const BUF_LEN: usize =
    (HEADER_LEN + MAX_STORED_BLOCK + 2 * ALIGN_USIZE).next_multiple_of(ALIGN_USIZE);

/// Spare buffers kept at most: about as many as `put`s and `get`s run at
/// once on a node (its transfers in flight). More allocate their own.
const MAX_SPARE: usize = 16;

/// Bytes (zeroed when made) starting at an [`ALIGN`]-aligned address, as
/// `O_DIRECT` transfers need. Built from a `Vec` longer by `ALIGN` and used from its
/// first aligned address, so it needs no `unsafe` (an allocation with an
/// aligned `Layout` would need it to build slices and to free).
#[derive(Debug, Default)]
pub(super) struct AlignedBuf {
    raw: Vec<u8>,
    /// Where the aligned part of `raw` starts.
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of at least `len` bytes, a whole number of [`ALIGN`]s.
    pub fn new(len: usize) -> Self {
        let len = len.max(1).next_multiple_of(ALIGN_USIZE);
        let raw = vec![0u8; len + ALIGN_USIZE];
        // Bytes from the start of `raw` to the first aligned address.
        let start = raw.as_ptr().addr().wrapping_neg() % ALIGN_USIZE;
        AlignedBuf { raw, start, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn as_slice(&self) -> &[u8] {
        // In bounds by construction: `start < ALIGN`.
        self.raw
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.raw
            .get_mut(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

/// Spare [`BUF_LEN`] buffers, shared by a store's reads and writes.
#[derive(Debug, Default)]
pub(super) struct Buffers {
    spare: Mutex<Vec<AlignedBuf>>,
}

impl Buffers {
    /// A buffer of [`BUF_LEN`] bytes (not zeroed: a reused one holds what
    /// it held), back in the pool when dropped.
    pub fn take(&self) -> Pooled<'_> {
        let spare = self.lock().pop();
        Pooled {
            buf: spare.unwrap_or_else(|| AlignedBuf::new(BUF_LEN)),
            pool: self,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<AlignedBuf>> {
        // Only spare buffers are kept here.
        self.spare.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A buffer taken from [`Buffers`].
#[derive(Debug)]
pub(super) struct Pooled<'a> {
    buf: AlignedBuf,
    pool: &'a Buffers,
}

impl Deref for Pooled<'_> {
    type Target = AlignedBuf;

    fn deref(&self) -> &AlignedBuf {
        &self.buf
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut AlignedBuf {
        &mut self.buf
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() == BUF_LEN {
            let mut spare = self.pool.lock();
            if spare.len() < MAX_SPARE {
                spare.push(buf);
            }
        }
    }
}

/// Whether a store's segment files are opened with `O_DIRECT`. Shared by
/// its writer and readers; once the filesystem refuses it, off for good.
#[derive(Debug)]
pub(super) struct Mode {
    direct: AtomicBool,
    /// Tests: act as a filesystem that refuses `O_DIRECT` (tmpfs before
    /// Linux 6.6), whatever the real one does.
    #[cfg(test)]
    refuse: bool,
}

/// How a store asks to do its segment I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Io {
    /// `O_DIRECT` where the filesystem allows it: what `open` uses.
    Direct,
    /// Through the page cache.
    Buffered,
    /// Tests: `Direct` on a filesystem that refuses it.
    #[cfg(test)]
    Refused,
}

impl Mode {
    pub fn new(io: Io) -> Self {
        Mode {
            direct: AtomicBool::new(io != Io::Buffered),
            #[cfg(test)]
            refuse: io == Io::Refused,
        }
    }

    pub fn is_direct(&self) -> bool {
        self.direct.load(Ordering::Relaxed)
    }

    /// Turns `O_DIRECT` off after the filesystem refused it with `err` on
    /// `path`. Logged the first time only: every segment is on the same
    /// filesystem.
    pub fn refused(&self, path: &Path, err: &io::Error) {
        if self.direct.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                path = %path.display(),
                error = %err,
                "the filesystem refuses O_DIRECT; block segments use buffered I/O \
                 (slower where fresh page-cache memory is slow)"
            );
        }
    }

    /// Opens `path` as `options` say, with `O_DIRECT` while the mode is
    /// direct (falling back if the filesystem refuses). Returns the file
    /// and whether it is direct.
    pub fn open(&self, options: &OpenOptions, path: &Path) -> io::Result<(File, bool)> {
        if self.is_direct() {
            let mut direct = options.clone();
            direct.custom_flags(libc::O_DIRECT);
            match self.open_direct(&direct, path) {
                Ok(file) => return Ok((file, true)),
                Err(e) if is_refusal(&e) => self.refused(path, &e),
                Err(e) => return Err(e),
            }
        }
        Ok((options.open(path)?, false))
    }

    #[cfg(not(test))]
    fn open_direct(&self, options: &OpenOptions, path: &Path) -> io::Result<File> {
        options.open(path)
    }

    #[cfg(test)]
    fn open_direct(&self, options: &OpenOptions, path: &Path) -> io::Result<File> {
        if self.refuse {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        options.open(path)
    }
}

/// Whether `err` is a filesystem refusing `O_DIRECT` (or the alignment it
/// was given): `EINVAL`, which a buffered transfer never returns for the
/// offsets and lengths the store uses.
pub(super) fn is_refusal(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EINVAL)
}

/// Reads `len` bytes at `offset` of `file`; `Ok(None)` if the file ends
/// first. The caller bounds `len`.
pub(super) fn read_buffered(file: &File, offset: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
    let mut out = vec![0u8; len];
    match file.read_exact_at(&mut out, offset) {
        Ok(()) => Ok(Some(out)),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`read_buffered`] for a file opened with `O_DIRECT`: reads the
/// [`ALIGN`]ed range around the bytes into `buf` (replaced by a bigger one
/// if it is too small) and copies them out.
pub(super) fn read_direct(
    file: &File,
    offset: u64,
    len: usize,
    buf: &mut AlignedBuf,
) -> io::Result<Option<Vec<u8>>> {
    let start = offset - offset % ALIGN;
    // Both below `len + ALIGN`: `offset - start < ALIGN`.
    let head = (offset - start) as usize;
    let need = head + len;
    let whole = need.next_multiple_of(ALIGN_USIZE);
    if buf.len() < whole {
        *buf = AlignedBuf::new(whole);
    }
    let Some(window) = buf.as_mut_slice().get_mut(..whole) else {
        return Ok(None);
    };
    let mut filled = 0;
    while filled < need {
        let Some(rest) = window.get_mut(filled..) else {
            break;
        };
        let n = match file.read_at(rest, start + filled as u64) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        // A short read that is not a whole number of blocks ended at the
        // end of the file; reading on from there would be unaligned.
        if n == 0 || !filled.is_multiple_of(ALIGN_USIZE) {
            break;
        }
    }
    if filled < need {
        return Ok(None);
    }
    Ok(window.get(head..need).map(<[u8]>::to_vec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_are_aligned_and_zeroed() {
        for len in [0, 1, 4095, 4096, 4097, 300_000] {
            let mut b = AlignedBuf::new(len);
            assert!(b.len() >= len.max(1));
            assert_eq!(b.len() % ALIGN_USIZE, 0);
            assert_eq!(b.as_slice().as_ptr().addr() % ALIGN_USIZE, 0);
            assert_eq!(b.as_mut_slice().len(), b.len());
            assert!(b.as_slice().iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn pooled_buffers_are_reused() {
        let pool = Buffers::default();
        let first = pool.take().as_slice().as_ptr();
        assert_eq!(pool.take().as_slice().as_ptr(), first);
        let (a, b) = (pool.take(), pool.take());
        assert_ne!(a.as_slice().as_ptr(), b.as_slice().as_ptr());
        assert_eq!((a.len(), b.len()), (BUF_LEN, BUF_LEN));
        drop((a, b));
        let many: Vec<_> = (0..MAX_SPARE + 5).map(|_| pool.take()).collect();
        drop(many);
        assert_eq!(pool.lock().len(), MAX_SPARE);
    }

    #[test]
    fn reads_any_range_directly_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // Not a whole number of blocks, so the last direct read is short.
        let data: Vec<u8> = (0..3 * ALIGN_USIZE + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let mode = Mode::new(Io::Direct);
        let (file, direct) = mode.open(OpenOptions::new().read(true), &path).unwrap();
        assert!(direct, "ext4 and tmpfs (Linux 6.6 on) take O_DIRECT");
        let plain = File::open(&path).unwrap();
        let mut buf = AlignedBuf::new(1);
        let end = data.len() as u64;
        for (offset, len) in [
            (0, 0),
            (0, 45),
            (45, 1000),
            (4095, 2),
            (4096, 4096),
            (100, 3 * 4096),
            (end - 10, 10),
            (end, 0),
            (end - 10, 11),
            (end + 5000, 1),
        ] {
            let expected = data
                .get(offset as usize..offset as usize + len)
                .map(<[u8]>::to_vec);
            for (f, direct) in [(&file, true), (&plain, false)] {
                let got = if direct {
                    read_direct(f, offset, len, &mut buf)
                } else {
                    read_buffered(f, offset, len)
                };
                assert_eq!(got.unwrap(), expected, "{offset} + {len}, direct {direct}");
            }
        }
    }

    #[test]
    fn a_refusal_falls_back_to_buffered_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let mode = Mode::new(Io::Refused);
        assert!(mode.is_direct());
        let (_, direct) = mode.open(OpenOptions::new().read(true), &path).unwrap();
        assert!(!direct);
        assert!(!mode.is_direct());
        let mode = Mode::new(Io::Buffered);
        let (_, direct) = mode.open(OpenOptions::new().read(true), &path).unwrap();
        assert!(!direct);
        // Other errors are errors.
        let err = Mode::new(Io::Direct)
            .open(OpenOptions::new().read(true), &dir.path().join("none"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
}
