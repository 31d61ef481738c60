//! Where things live on disk, and the two file operations everything else
//! is built from: a bounded read and an atomic write.
//!
//! ```text
//! <dir>/blocks/<first byte, 2 hex>/<block id, 64 hex>
//! <dir>/manifests/<content id, 64 hex>
//! ```
//!
//! Sharding blocks by their first byte keeps directories small (a full
//! 16 GiB content is 65,536 blocks, 256 per shard). Writes go to a
//! `*.tmp` file first and are renamed into place, so a reader or a crash
//! never sees half a file under its final name; leftover `*.tmp` files are
//! removed when the store is opened.

use crate::error::PdfsError;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use umbra_types::Hash;

pub(super) const BLOCKS_DIR: &str = "blocks";
pub(super) const MANIFESTS_DIR: &str = "manifests";
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// The shard directory name of an id.
pub(super) fn shard(id: &Hash) -> String {
    format!("{:02x}", id.0[0])
}

pub(super) fn block_path(blocks: &Path, id: &Hash) -> PathBuf {
    blocks.join(shard(id)).join(id.to_hex())
}

/// The id a file name stands for: exactly 64 lowercase hex digits, as the
/// store writes them. Anything else is not the store's and is left alone.
pub(super) fn parse_id(name: &str) -> Option<Hash> {
    if name.len() != 64 || !name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    name.parse().ok()
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
/// No fsync: a block lost or torn by a power cut is caught by the hash check
/// on read and fetched again, and the accounting is rebuilt on open.
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

/// The length of a file, `None` if it does not exist.
pub(super) fn file_len(path: &Path) -> Result<Option<u64>, PdfsError> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PdfsError::io(path, e)),
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
        let p = block_path(Path::new("/s/blocks"), &id);
        assert_eq!(
            p,
            Path::new("/s/blocks")
                .join(&id.to_hex()[..2])
                .join(id.to_hex())
        );
    }
}
