//! Canonical encoding: borsh, with a size limit checked before anything is
//! allocated.
//!
//! borsh has exactly one encoding per value (no maps are used in consensus
//! types), rejects trailing bytes through `from_slice`, and never trusts a
//! length prefix for preallocation beyond a small cap; checking the input
//! length first bounds every allocation the decoder can make by the limit.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
}

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    // Writing into a Vec cannot fail; borsh only errors on IO.
    borsh::to_vec(value).unwrap_or_default()
}

/// Decodes untrusted bytes, refusing inputs over `limit` bytes and any
/// trailing garbage.
pub fn decode_bounded<T: BorshDeserialize>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    borsh::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}
