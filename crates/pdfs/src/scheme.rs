//! How a content's blocks are stored: in the clear or encrypted.

use crate::limits::TAG_BYTES;
use borsh::{BorshDeserialize, BorshSerialize};

/// The storage scheme of a content, recorded in its manifest. The borsh tag
/// (0 = `Public`, 1 = `Aes256Gcm`) is part of the manifest format: append new
/// schemes, never reorder.
#[derive(BorshSerialize, BorshDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Stored bytes are the plaintext; anyone holding the blocks can read it.
    Public,
    /// Each block is AES-256-GCM under the content key (see `seal_block`).
    Aes256Gcm,
}

impl Scheme {
    /// Bytes a stored block has beyond its plaintext.
    pub fn overhead(self) -> usize {
        match self {
            Scheme::Public => 0,
            Scheme::Aes256Gcm => TAG_BYTES,
        }
    }
}
