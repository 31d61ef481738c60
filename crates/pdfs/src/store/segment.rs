//! The record format of a segment file, and reading a segment's records
//! back.
//!
//! A segment is a sequence of records in one of two formats ([`Format`]),
//! named by the magic of every record header:
//!
//! ```text
//! record    = header (45 bytes) | payload | padding
//! header    = magic | kind u8 | payload length u32 LE | block id (32) | check u32 LE
//! block     = kind 1, payload = the block's bytes (at most MAX_STORED_BLOCK)
//! tombstone = kind 2, payload = segment u64 LE | offset u64 LE
//!
//! aligned   magic "UMB2": each record starts at a multiple of 4096 (ALIGN);
//!           padding = zero bytes up to the next multiple
//! packed    magic "UMBS": records back to back, no padding
//! ```
//!
//! The writer appends aligned records only, so that it can write them with
//! `O_DIRECT` (see `direct`), which needs offsets and lengths aligned to the
//! device's blocks. Packed segments are what the store wrote before; they
//! are still read (a record's bytes are found the same way in both), never
//! appended to, and are rewritten as aligned ones when compaction gets to
//! them. One segment never mixes the two: a record of the other format is
//! treated like any invalid record.
//!
//! `check` is the first four bytes of the SHA-256 of the header before it,
//! so a header damaged on disk is not read as another record. A block's
//! bytes are not covered: their id is their hash, checked on every read.
//! Neither is the padding: it carries nothing, and the scan jumps over it
//! without reading it.
//!
//! A tombstone kills exactly one block record, the one at (segment, offset),
//! rather than "the block" as of where it stands. That makes tombstones
//! independent of order, which compaction needs: it may move a tombstone
//! past a later copy of the same block without killing it, and may drop a
//! tombstone as soon as the segment it points into is gone (nothing is left
//! for it to kill), whatever other segments still hold.
//!
//! Appends are serialised, so only the last record of a segment can be torn
//! by a crash; [`scan`] stops at the first record that is invalid or runs
//! past the end of the file (its padding included: an aligned record is
//! whole only with its padding, so that the valid records always end on a
//! boundary the writer can continue from), and reports where the valid
//! records end.

use super::index::Location;
use crate::error::PdfsError;
use crate::limits::MAX_STORED_BLOCK;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;
use umbra_types::{Hash, sha256};

pub(super) const HEADER_LEN: usize = 45;
/// The payload of a tombstone: the location of the record it kills.
pub(super) const TOMBSTONE_PAYLOAD: usize = 16;
/// Where aligned records start: multiples of this. 4 KiB is the page size,
/// and at least the logical block size of every common disk, which is what
/// `O_DIRECT` transfers must be aligned to.
pub(super) const ALIGN: u64 = 4096;
const MAGIC_PACKED: [u8; 4] = *b"UMBS";
const MAGIC_ALIGNED: [u8; 4] = *b"UMB2";
const KIND_BLOCK: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
/// The header bytes the check covers: everything before it.
const CHECKED: usize = HEADER_LEN - 4;

/// How a segment lays out its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Format {
    /// Back to back (magic "UMBS"): segments written before records were
    /// aligned. Read, never appended to.
    Packed,
    /// Each at a multiple of [`ALIGN`], zero-padded up to the next one
    /// (magic "UMB2"): what the writer appends, and so the format of a new
    /// or empty segment.
    #[default]
    Aligned,
}

impl Format {
    fn magic(self) -> [u8; 4] {
        match self {
            Format::Packed => MAGIC_PACKED,
            Format::Aligned => MAGIC_ALIGNED,
        }
    }

    /// Bytes a record with a payload of `len` bytes takes in a segment of
    /// this format, its padding included.
    pub fn span(self, len: u32) -> u64 {
        let whole = HEADER_LEN as u64 + u64::from(len);
        match self {
            Format::Packed => whole,
            Format::Aligned => whole.next_multiple_of(ALIGN),
        }
    }
}

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Block,
    Tombstone,
}

/// The header of a record, as written before its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub kind: Kind,
    pub id: Hash,
    /// Payload bytes after the header.
    pub len: u32,
}

impl Header {
    pub fn block(id: Hash, len: u32) -> Self {
        Header {
            kind: Kind::Block,
            id,
            len,
        }
    }

    pub fn tombstone(id: Hash) -> Self {
        Header {
            kind: Kind::Tombstone,
            id,
            len: TOMBSTONE_PAYLOAD as u32,
        }
    }

    /// The header's bytes in a segment of `format`.
    pub fn encode(&self, format: Format) -> [u8; HEADER_LEN] {
        let kind = match self.kind {
            Kind::Block => KIND_BLOCK,
            Kind::Tombstone => KIND_TOMBSTONE,
        };
        let mut out = [0u8; HEADER_LEN];
        let (checked, check) = out.split_at_mut(CHECKED);
        let (magic, rest) = checked.split_at_mut(4);
        let (kind_byte, rest) = rest.split_at_mut(1);
        let (len, id) = rest.split_at_mut(4);
        magic.copy_from_slice(&format.magic());
        kind_byte.copy_from_slice(&[kind]);
        len.copy_from_slice(&self.len.to_le_bytes());
        id.copy_from_slice(&self.id.0);
        let sum = sha256(checked);
        check.copy_from_slice(sum.0.first_chunk::<4>().unwrap_or(&[0; 4]));
        out
    }

    /// The header in `buf` and the format of the segment it belongs in, or
    /// `None` if it is not one the store wrote: a wrong magic, kind or
    /// check, or a payload length no record of its kind has. Lengths are
    /// bounded here, before anything is allocated for them.
    pub fn decode(buf: &[u8; HEADER_LEN]) -> Option<(Format, Self)> {
        let (checked, check) = buf.split_first_chunk::<CHECKED>()?;
        if sha256(checked).0.first_chunk::<4>() != check.first_chunk::<4>() {
            return None;
        }
        let (magic, rest) = buf.split_first_chunk::<4>()?;
        let (&[kind], rest) = rest.split_first_chunk::<1>()?;
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let (id, _) = rest.split_first_chunk::<32>()?;
        let format = match *magic {
            MAGIC_ALIGNED => Format::Aligned,
            MAGIC_PACKED => Format::Packed,
            _ => return None,
        };
        let len = u32::from_le_bytes(*len);
        let kind = match kind {
            KIND_BLOCK if len as usize <= MAX_STORED_BLOCK => Kind::Block,
            KIND_TOMBSTONE if len as usize == TOMBSTONE_PAYLOAD => Kind::Tombstone,
            _ => return None,
        };
        Some((
            format,
            Header {
                kind,
                id: Hash(*id),
                len,
            },
        ))
    }
}

/// The payload of a tombstone killing the record at (`segment`, `offset`).
pub(super) fn encode_target(segment: u64, offset: u64) -> [u8; TOMBSTONE_PAYLOAD] {
    let mut out = [0u8; TOMBSTONE_PAYLOAD];
    let (s, o) = out.split_at_mut(8);
    s.copy_from_slice(&segment.to_le_bytes());
    o.copy_from_slice(&offset.to_le_bytes());
    out
}

fn decode_target(buf: &[u8; TOMBSTONE_PAYLOAD]) -> (u64, u64) {
    let (segment, offset) = buf.split_at(8);
    let word = |b: &[u8]| u64::from_le_bytes(b.first_chunk::<8>().copied().unwrap_or_default());
    (word(segment), word(offset))
}

/// One record found by [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Record {
    /// A block record: where it is (its `len` is the block's).
    Block { id: Hash, at: Location },
    /// A tombstone at `offset` (its own) that kills the block record of
    /// `id` at (`segment`, `offset`) of `target`.
    Tombstone {
        id: Hash,
        offset: u64,
        target: (u64, u64),
    },
}

/// What [`scan`] found in a segment.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Scanned {
    /// The valid records, in order.
    pub records: Vec<Record>,
    /// Where they end: the file's length, or the start of a torn or invalid
    /// record after which nothing is read.
    pub end: u64,
    /// The format of the records; `None` if there are none.
    pub format: Option<Format>,
}

/// The records of segment `seq` (open in `file`, at `path` for errors).
/// Reads only headers and tombstones, seeking over blocks' bytes and
/// padding.
pub(super) fn scan(file: &File, path: &Path, seq: u64) -> Result<Scanned, PdfsError> {
    let file_len = file.metadata().map_err(|e| PdfsError::io(path, e))?.len();
    let mut records = Vec::new();
    let mut format = None;
    let mut offset = 0u64;
    while file_len.saturating_sub(offset) >= HEADER_LEN as u64 {
        let mut buf = [0u8; HEADER_LEN];
        if !read_at(file, path, &mut buf, offset)? {
            break;
        }
        let Some((f, header)) = Header::decode(&buf) else {
            break;
        };
        // The first record sets the segment's format; the writer never
        // mixes them, so one of the other format is not the store's.
        if *format.get_or_insert(f) != f {
            break;
        }
        let next = offset + f.span(header.len);
        if next > file_len {
            break;
        }
        records.push(match header.kind {
            Kind::Block => Record::Block {
                id: header.id,
                at: Location {
                    segment: seq,
                    offset,
                    len: header.len,
                },
            },
            Kind::Tombstone => {
                let mut payload = [0u8; TOMBSTONE_PAYLOAD];
                if !read_at(file, path, &mut payload, offset + HEADER_LEN as u64)? {
                    break;
                }
                Record::Tombstone {
                    id: header.id,
                    offset,
                    target: decode_target(&payload),
                }
            }
        });
        offset = next;
    }
    if records.is_empty() {
        format = None;
    }
    Ok(Scanned {
        records,
        end: offset,
        format,
    })
}

/// Fills `buf` from `offset`; `Ok(false)` if the file ends first (it was
/// cut short after its length was read).
pub(super) fn read_at(
    file: &File,
    path: &Path,
    buf: &mut [u8],
    offset: u64,
) -> Result<bool, PdfsError> {
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(PdfsError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn headers_round_trip_and_reject_damage() {
        let id = sha256(b"block");
        for format in [Format::Packed, Format::Aligned] {
            for h in [
                Header::block(id, 0),
                Header::block(id, MAX_STORED_BLOCK as u32),
                Header::tombstone(id),
            ] {
                let bytes = h.encode(format);
                assert_eq!(Header::decode(&bytes), Some((format, h)));
                // Any single changed byte is refused.
                for i in 0..HEADER_LEN {
                    let mut bad = bytes;
                    bad[i] ^= 0x40;
                    assert_eq!(Header::decode(&bad), None, "byte {i}");
                }
            }
            // Lengths no record of the kind has, even with a valid check.
            for h in [
                Header::block(id, MAX_STORED_BLOCK as u32 + 1),
                Header {
                    kind: Kind::Tombstone,
                    id,
                    len: 17,
                },
            ] {
                assert_eq!(Header::decode(&h.encode(format)), None);
            }
        }
        // The two formats differ only in the magic, which the check covers.
        let h = Header::block(id, 7);
        assert_eq!(&h.encode(Format::Packed)[..4], b"UMBS");
        assert_eq!(&h.encode(Format::Aligned)[..4], b"UMB2");
        assert_eq!(Header::decode(&[0; HEADER_LEN]), None);
        assert_eq!(decode_target(&encode_target(7, 1 << 40)), (7, 1 << 40));
    }

    #[test]
    fn spans() {
        assert_eq!(Format::Packed.span(0), HEADER_LEN as u64);
        assert_eq!(Format::Packed.span(1000), HEADER_LEN as u64 + 1000);
        assert_eq!(Format::Aligned.span(0), ALIGN);
        assert_eq!(
            Format::Aligned.span(ALIGN as u32 - HEADER_LEN as u32),
            ALIGN
        );
        assert_eq!(
            Format::Aligned.span(ALIGN as u32 - HEADER_LEN as u32 + 1),
            2 * ALIGN
        );
        assert_eq!(
            Format::Aligned.span(MAX_STORED_BLOCK as u32),
            (HEADER_LEN + MAX_STORED_BLOCK).next_multiple_of(ALIGN as usize) as u64
        );
    }

    /// A record as the writer lays it out in a segment of `format`.
    fn record(format: Format, header: Header, payload: &[u8]) -> Vec<u8> {
        let mut out = header.encode(format).to_vec();
        out.extend_from_slice(payload);
        out.resize(format.span(header.len) as usize, 0);
        out
    }

    /// A block record of "abc" and a tombstone killing it, laid out in
    /// `format`, and what `scan` finds in them.
    fn two_records(format: Format) -> (Vec<u8>, Vec<u8>, Vec<Record>) {
        let id = sha256(b"x");
        let good = record(format, Header::block(id, 3), b"abc");
        let tomb = record(format, Header::tombstone(id), &encode_target(1, 0));
        let expected = vec![
            Record::Block {
                id,
                at: Location {
                    segment: 1,
                    offset: 0,
                    len: 3,
                },
            },
            Record::Tombstone {
                id,
                offset: good.len() as u64,
                target: (1, 0),
            },
        ];
        (good, tomb, expected)
    }

    fn scan_of(bytes: &[u8]) -> Scanned {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        File::create(&path).unwrap().write_all(bytes).unwrap();
        scan(&File::open(&path).unwrap(), &path, 1).unwrap()
    }

    fn scanned(records: &[Record], end: usize, format: Option<Format>) -> Scanned {
        Scanned {
            records: records.to_vec(),
            end: end as u64,
            format,
        }
    }

    #[test]
    fn scan_stops_at_a_torn_or_invalid_record() {
        for format in [Format::Packed, Format::Aligned] {
            let (good, tomb, expected) = two_records(format);
            let whole = [&good[..], &tomb[..]].concat();
            let f = Some(format);
            assert_eq!(scan_of(&whole), scanned(&expected, whole.len(), f));
            // Every cut inside the second record, its padding included,
            // keeps the first (one file rewritten for every cut).
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s");
            std::fs::write(&path, &whole).unwrap();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            for cut in (good.len()..whole.len()).rev() {
                file.set_len(cut as u64).unwrap();
                assert_eq!(
                    scan(&file, &path, 1).unwrap(),
                    scanned(&expected[..1], good.len(), f),
                    "{format:?}, cut at {cut}"
                );
            }
            // And every cut inside the first leaves nothing.
            for cut in [
                1,
                HEADER_LEN - 1,
                HEADER_LEN,
                HEADER_LEN + 2,
                good.len() - 1,
            ] {
                assert_eq!(scan_of(&good[..cut]), scanned(&[], 0, None), "cut at {cut}");
            }
            // Garbage after a valid record.
            let junk = [&good[..], &[0xffu8; 100][..]].concat();
            assert_eq!(scan_of(&junk), scanned(&expected[..1], good.len(), f));
        }
        assert_eq!(scan_of(&[]), scanned(&[], 0, None));
    }

    #[test]
    fn scan_skips_padding() {
        let (good, tomb, expected) = two_records(Format::Aligned);
        // Each record starts at a boundary, the padding is zeros.
        assert_eq!((good.len(), tomb.len()), (ALIGN as usize, ALIGN as usize));
        assert!(good[HEADER_LEN + 3..].iter().all(|&b| b == 0));
        // A block spanning several boundaries.
        let id = sha256(b"long");
        let long = record(Format::Aligned, Header::block(id, 10_000), &[7; 10_000]);
        assert_eq!(long.len(), 3 * ALIGN as usize);
        let whole = [&good[..], &long[..], &tomb[..]].concat();
        let mut all = expected.clone();
        all.insert(
            1,
            Record::Block {
                id,
                at: Location {
                    segment: 1,
                    offset: ALIGN,
                    len: 10_000,
                },
            },
        );
        if let Record::Tombstone { offset, .. } = &mut all[2] {
            *offset = 4 * ALIGN;
        }
        let f = Some(Format::Aligned);
        assert_eq!(scan_of(&whole), scanned(&all, whole.len(), f));
        // The padding is jumped over, not read: whatever is in it.
        let mut dirty = whole.clone();
        dirty[HEADER_LEN + 3..ALIGN as usize].fill(0xa5);
        assert_eq!(scan_of(&dirty), scanned(&all, whole.len(), f));
        // A header in the padding is not a record: the next one is at the
        // boundary.
        let mut fake = whole.clone();
        let stray = Header::tombstone(id).encode(Format::Aligned);
        fake[100..100 + HEADER_LEN].copy_from_slice(&stray);
        assert_eq!(scan_of(&fake), scanned(&all, whole.len(), f));
    }

    #[test]
    fn a_segment_never_mixes_formats() {
        let (packed, _, expected) = two_records(Format::Packed);
        let (_, aligned_tomb, _) = two_records(Format::Aligned);
        // A packed record, zeros up to the boundary, then an aligned one.
        let mut mixed = packed.clone();
        mixed.resize(ALIGN as usize, 0);
        mixed.extend_from_slice(&aligned_tomb);
        assert_eq!(
            scan_of(&mixed),
            scanned(&expected[..1], packed.len(), Some(Format::Packed))
        );
        // An aligned record followed directly by a packed one.
        let (aligned, _, expected) = two_records(Format::Aligned);
        let (_, packed_tomb, _) = two_records(Format::Packed);
        let mixed = [&aligned[..], &packed_tomb[..]].concat();
        assert_eq!(
            scan_of(&mixed),
            scanned(&expected[..1], aligned.len(), Some(Format::Aligned))
        );
    }
}
