//! The record format of a segment file, and reading a segment's records
//! back.
//!
//! A segment is a sequence of records with nothing between them:
//!
//! ```text
//! record    = header (45 bytes) | payload
//! header    = magic "UMBS" | kind u8 | payload length u32 LE | block id (32) | check u32 LE
//! block     = kind 1, payload = the block's bytes (at most MAX_STORED_BLOCK)
//! tombstone = kind 2, payload = segment u64 LE | offset u64 LE
//! ```
//!
//! `check` is the first four bytes of the SHA-256 of the header before it,
//! so a header damaged on disk is not read as another record. A block's
//! bytes are not covered: their id is their hash, checked on every read.
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
//! past the end of the file, and reports where the valid records end.

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
/// A whole tombstone record.
pub(super) const TOMBSTONE_LEN: u64 = (HEADER_LEN + TOMBSTONE_PAYLOAD) as u64;
const MAGIC: [u8; 4] = *b"UMBS";
const KIND_BLOCK: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
/// The header bytes the check covers: everything before it.
const CHECKED: usize = HEADER_LEN - 4;

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

    pub fn encode(&self) -> Vec<u8> {
        let kind = match self.kind {
            Kind::Block => KIND_BLOCK,
            Kind::Tombstone => KIND_TOMBSTONE,
        };
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(kind);
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.id.0);
        let check = sha256(&out);
        out.extend_from_slice(check.0.first_chunk::<4>().unwrap_or(&[0; 4]));
        out
    }

    /// The header in `buf`, or `None` if it is not one the store wrote: a
    /// wrong magic, kind or check, or a payload length no record of its
    /// kind has. Lengths are bounded here, before anything is allocated for
    /// them.
    pub fn decode(buf: &[u8; HEADER_LEN]) -> Option<Self> {
        let (checked, check) = buf.split_first_chunk::<CHECKED>()?;
        if sha256(checked).0.first_chunk::<4>() != check.first_chunk::<4>() {
            return None;
        }
        let (magic, rest) = buf.split_first_chunk::<4>()?;
        let (&[kind], rest) = rest.split_first_chunk::<1>()?;
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let (id, _) = rest.split_first_chunk::<32>()?;
        if *magic != MAGIC {
            return None;
        }
        let len = u32::from_le_bytes(*len);
        let kind = match kind {
            KIND_BLOCK if len as usize <= MAX_STORED_BLOCK => Kind::Block,
            KIND_TOMBSTONE if len as usize == TOMBSTONE_PAYLOAD => Kind::Tombstone,
            _ => return None,
        };
        Some(Header {
            kind,
            id: Hash(*id),
            len,
        })
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

/// The records of segment `seq` (open in `file`, at `path` for errors), in
/// order, and the offset where the valid ones end: the file's length, or
/// the start of a torn or invalid record after which nothing is read.
/// Reads only headers and tombstones, seeking over blocks' bytes.
pub(super) fn scan(file: &File, path: &Path, seq: u64) -> Result<(Vec<Record>, u64), PdfsError> {
    let file_len = file.metadata().map_err(|e| PdfsError::io(path, e))?.len();
    let mut records = Vec::new();
    let mut offset = 0u64;
    while file_len.saturating_sub(offset) >= HEADER_LEN as u64 {
        let mut buf = [0u8; HEADER_LEN];
        if !read_at(file, path, &mut buf, offset)? {
            break;
        }
        let Some(header) = Header::decode(&buf) else {
            break;
        };
        let payload_at = offset + HEADER_LEN as u64;
        let end = payload_at + u64::from(header.len);
        if end > file_len {
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
                if !read_at(file, path, &mut payload, payload_at)? {
                    break;
                }
                Record::Tombstone {
                    id: header.id,
                    offset,
                    target: decode_target(&payload),
                }
            }
        });
        offset = end;
    }
    Ok((records, offset))
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
        for h in [
            Header::block(id, 0),
            Header::block(id, MAX_STORED_BLOCK as u32),
            Header::tombstone(id),
        ] {
            let bytes: [u8; HEADER_LEN] = h.encode().try_into().unwrap();
            assert_eq!(Header::decode(&bytes), Some(h));
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
            let bytes: [u8; HEADER_LEN] = h.encode().try_into().unwrap();
            assert_eq!(Header::decode(&bytes), None);
        }
        assert_eq!(Header::decode(&[0; HEADER_LEN]), None);
        assert_eq!(decode_target(&encode_target(7, 1 << 40)), (7, 1 << 40));
    }

    #[test]
    fn scan_stops_at_a_torn_or_invalid_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let id = sha256(b"x");
        let mut good = Header::block(id, 3).encode();
        good.extend_from_slice(b"abc");
        let mut tomb = Header::tombstone(id).encode();
        tomb.extend_from_slice(&encode_target(1, 0));
        let whole = [&good[..], &tomb[..]].concat();
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
        let scan_of = |bytes: &[u8]| {
            std::fs::File::create(&path)
                .unwrap()
                .write_all(bytes)
                .unwrap();
            scan(&File::open(&path).unwrap(), &path, 1).unwrap()
        };
        assert_eq!(scan_of(&whole), (expected.clone(), whole.len() as u64));
        // Every cut inside the second record keeps the first.
        for cut in good.len()..whole.len() {
            assert_eq!(
                scan_of(&whole[..cut]),
                (expected[..1].to_vec(), good.len() as u64),
                "cut at {cut}"
            );
        }
        // Garbage after a valid record.
        let junk = [&good[..], &[0xffu8; 100][..]].concat();
        assert_eq!(scan_of(&junk), (expected[..1].to_vec(), good.len() as u64));
        assert_eq!(scan_of(&[]), (vec![], 0));
    }
}
