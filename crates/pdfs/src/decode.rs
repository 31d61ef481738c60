//! Checking and opening one fetched block.

use crate::cipher::{block_id, open_block};
use crate::error::PdfsError;
use crate::key::ContentKey;
use crate::manifest::Manifest;
use crate::scheme::Scheme;

/// Checks a fetched stored block against the manifest and returns its
/// plaintext, decrypting for [`Scheme::Aes256Gcm`] (then `key` is required;
/// for [`Scheme::Public`] it is ignored).
///
/// In order, cheapest first: the index exists, the length is the one the
/// manifest's size and scheme imply (so a manifest cannot lie about either
/// without its blocks failing here), SHA-256 equals `block_ids[index]`,
/// and the block authenticates under its index and "last" flag.
pub fn decode_block(
    manifest: &Manifest,
    key: Option<&ContentKey>,
    index: u64,
    stored: &[u8],
) -> Result<Vec<u8>, PdfsError> {
    let count = manifest.block_count();
    let expected_len = manifest
        .stored_len(index)
        .ok_or(PdfsError::NoSuchBlock { index, count })?;
    if stored.len() as u64 != expected_len {
        return Err(PdfsError::BlockLength {
            index,
            expected: expected_len,
            got: stored.len() as u64,
        });
    }
    let expected = usize::try_from(index)
        .ok()
        .and_then(|i| manifest.block_ids.get(i))
        .ok_or(PdfsError::NoSuchBlock { index, count })?;
    let got = block_id(stored);
    if got != *expected {
        return Err(PdfsError::HashMismatch {
            expected: *expected,
            got,
        });
    }
    match manifest.scheme {
        Scheme::Public => Ok(stored.to_vec()),
        Scheme::Aes256Gcm => {
            let key = key.ok_or(PdfsError::MissingKey)?;
            open_block(key, index, index + 1 == count, stored)
        }
    }
}
