//! Where things live on disk, and the file operations the rest of the store
//! is built from: listing a directory, a bounded read and an atomic write.
//!
//! ```text
//! <dir>/segments/<sequence number, 16 hex>.seg   blocks (see `segment`)
//! <dir>/manifests/<content id, 64 hex>           one file per manifest
//! <dir>/blocks/<first byte, 2 hex>/<block id>    the old layout, migrated on open
//! ```
//!
//! Manifests are few (one per content), so each keeps its own file, written
//! to a `*.tmp` file first and renamed into place: a reader or a crash never
//! sees half a manifest under its final name, and leftover `*.tmp` files are
//! removed when the store is opened.

use crate::error::PdfsError;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use umbra_types::Hash;

pub(super) const SEGMENTS_DIR: &str = "segments";
pub(super) const MANIFESTS_DIR: &str = "manifests";
/// One file per block, sharded by the id's first byte: the layout before
/// segments, read only to migrate it.
pub(super) const LEGACY_BLOCKS_DIR: &str = "blocks";
pub(super) const TMP_SUFFIX: &str = ".tmp";
const SEGMENT_SUFFIX: &str = ".seg";

/// The file of segment `seq`.
pub(super) fn segment_path(segments: &Path, seq: u64) -> PathBuf {
    segments.join(format!("{seq:016x}{SEGMENT_SUFFIX}"))
}

/// The sequence number a segment file name stands for: exactly 16 lowercase
/// hex digits and `.seg`, as the store writes them. Anything else is not the
/// store's and is left alone.
pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(SEGMENT_SUFFIX)?;
    if hex.len() != 16 || !is_lower_hex(hex) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// The legacy shard directory name of an id.
pub(super) fn shard(id: &Hash) -> String {
    format!("{:02x}", id.0[0])
}

/// The id a file name stands for: exactly 64 lowercase hex digits, as the
/// store writes them. Anything else is not the store's and is left alone.
pub(super) fn parse_id(name: &str) -> Option<Hash> {
    if name.len() != 64 || !is_lower_hex(name) {
        return None;
    }
    name.parse().ok()
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a bounded read found.
pub(super) enum ReadOutcome {
    Missing,
    /// Longer than allowed: not something the store wrote intact.
    Oversize,
    Bytes(Vec<u8>),
}

/// Reads a whole file of at most `max` bytes without trusting its length
/// for the allocation (the file may grow between stat and read).
pub(super) fn read_bounded(path: &Path, max: usize) -> Result<ReadOutcome, PdfsError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ReadOutcome::Missing),
        Err(e) => return Err(PdfsError::io(path, e)),
    };
    let len = file.metadata().map_err(|e| PdfsError::io(path, e))?.len();
    if len > max as u64 {
        return Ok(ReadOutcome::Oversize);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| PdfsError::io(path, e))?;
    if bytes.len() > max {
        return Ok(ReadOutcome::Oversize);
    }
    Ok(ReadOutcome::Bytes(bytes))
}

/// Writes `bytes` to `path` through `<path>.<seq>.tmp` and a rename. `seq`
/// makes concurrent writers of one path use different temporary files.
///
/// No fsync: a manifest lost or torn by a power cut is found by its check on
/// read and stored again.
pub(super) fn write_atomic(path: &Path, seq: u64, bytes: &[u8]) -> Result<(), PdfsError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{seq}{TMP_SUFFIX}"));
    let tmp = path.with_file_name(name);
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| PdfsError::io(&tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| PdfsError::io(path, e)));
    if written.is_err() {
        // Best effort: a leftover is removed on the next open anyway.
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Entries of a directory as (name, path, is a directory). A missing
/// directory is empty.
pub(super) fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, PdfsError> {
    let read = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(PdfsError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| PdfsError::io(dir, e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| PdfsError::io(entry.path(), e))?
            .is_dir();
        // Names that are not UTF-8 are not ours.
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path(), is_dir));
        }
    }
    Ok(out)
}

/// Removes a file; `Ok(false)` if it was already gone.
pub(super) fn remove(path: &Path) -> Result<bool, PdfsError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(PdfsError::io(path, e)),
    }
}

/// Removes `*.tmp` files (interrupted atomic writes) from `dir`.
pub(super) fn remove_tmp_files(dir: &Path) -> Result<(), PdfsError> {
    for (name, path, is_dir) in entries(dir)? {
        if !is_dir && name.ends_with(TMP_SUFFIX) {
            remove(&path)?;
        }
    }
    Ok(())
}

/// Removes a directory if it is empty; one that still holds something (not
/// the store's) or is already gone is left as it is.
pub(super) fn remove_dir_if_empty(dir: &Path) -> Result<(), PdfsError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::DirectoryNotEmpty) => Ok(()),
        Err(e) => Err(PdfsError::io(dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::sha256;

    #[test]
    fn names() {
        let id = sha256(b"x");
        assert_eq!(parse_id(&id.to_hex()), Some(id));
        assert_eq!(parse_id(&id.to_hex().to_uppercase()), None);
        assert_eq!(parse_id(&format!("{}.1.tmp", id.to_hex())), None);
        assert_eq!(parse_id(&id.to_hex()[1..]), None);
        assert_eq!(parse_id(&format!("0x{}", &id.to_hex()[2..])), None);
        assert_eq!(shard(&id), id.to_hex()[..2]);

        let p = segment_path(Path::new("/s/segments"), 0x1f);
        assert_eq!(p, Path::new("/s/segments/000000000000001f.seg"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_segment_name(name), Some(0x1f));
        assert_eq!(
            parse_segment_name(&segment_path(Path::new(""), u64::MAX).to_string_lossy()),
            Some(u64::MAX)
        );
        for bad in [
            "000000000000001F.seg",
            "00000000000001f.seg",
            "000000000000001f.seg.tmp",
            "000000000000001f",
            "+00000000000001f.seg",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }
}
