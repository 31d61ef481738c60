//! Content storage (PDFS) records: allocations bought on chain, the storage
//! nodes that serve content, and the grants that hand readers a content key.
//!
//! The constants here are the one definition of how content is cut into
//! blocks, shared by the chain (which prices and checks allocations) and
//! `umbra-pdfs` (which does the cutting).

use crate::Amount;
use crate::hash::Hash;
use crate::keys::Address;
use borsh::{BorshDeserialize, BorshSerialize};

/// Bytes of one content block (256 KiB); the last block may be shorter.
pub const STORAGE_BLOCK_SIZE: u64 = 262_144;
/// Most blocks one content may have (16 GiB of content).
pub const MAX_CONTENT_BLOCKS: u64 = 65_536;
/// Highest [`Priority`].
pub const MAX_PRIORITY: Priority = 3;
/// Longest libp2p peer id a storage node may register, bytes.
pub const MAX_PEER_ID_BYTES: usize = 64;
/// Most multiaddrs a storage node may register.
pub const MAX_NODE_ADDRS: usize = 4;
/// Longest multiaddr a storage node may register, bytes.
pub const MAX_NODE_ADDR_BYTES: usize = 128;
/// Longest wrapped content key in a grant (an HPKE envelope of 32 bytes).
pub const MAX_WRAPPED_KEY_BYTES: usize = 128;

/// Importance of content; higher costs more (seed §2.4.5). 0 = volatile,
/// 1 = normal, 2 = high, 3 = permanent-ish. At most [`MAX_PRIORITY`].
pub type Priority = u8;

/// The number of blocks content of `size` bytes is cut into: one block for
/// empty content, else `⌈size / STORAGE_BLOCK_SIZE⌉`.
pub fn content_blocks(size: u64) -> u64 {
    if size == 0 {
        1
    } else {
        size.div_ceil(STORAGE_BLOCK_SIZE)
    }
}

/// Whether content may change after it is stored. Writable content costs
/// twice as much.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum StorageMode {
    ReadOnly,
    Writable,
}

impl StorageMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageMode::ReadOnly => "read-only",
            StorageMode::Writable => "writable",
        }
    }
}

impl std::str::FromStr for StorageMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read-only" | "readonly" | "ro" => Ok(StorageMode::ReadOnly),
            "writable" | "rw" => Ok(StorageMode::Writable),
            _ => Err(format!(
                "unknown storage mode `{s}`: expected read-only or writable"
            )),
        }
    }
}

/// Paid-for room for one content on the storage nodes, until `expires_ms`
/// (block time). Content is live while the block time is below
/// `expires_ms`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Allocation {
    pub owner: Address,
    /// The Merkle root of the content's block hashes.
    pub content_id: Hash,
    /// Content size in bytes.
    pub size: u64,
    /// [`content_blocks`] of `size`.
    pub blocks: u64,
    pub replicas: u8,
    pub priority: Priority,
    pub mode: StorageMode,
    /// Public content is stored unencrypted and needs no grant to read.
    pub public: bool,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// Everything paid for this allocation (allocation and renewals).
    pub paid: Amount,
}

/// A registered storage node: an operator account that locked a deposit and
/// published where its node listens.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StorageNode {
    pub operator: Address,
    /// libp2p `PeerId` bytes, at most [`MAX_PEER_ID_BYTES`].
    pub peer_id: Vec<u8>,
    /// Multiaddrs, at most [`MAX_NODE_ADDRS`] of at most
    /// [`MAX_NODE_ADDR_BYTES`] bytes.
    pub addrs: Vec<String>,
    pub deposit: Amount,
    pub registered_ms: u64,
}

/// The owner of private content handing `reader` its content key, wrapped
/// to the reader's encryption key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Grant {
    pub content_id: Hash,
    pub owner: Address,
    pub reader: Address,
    /// HPKE envelope of the 32-byte content key, at most
    /// [`MAX_WRAPPED_KEY_BYTES`].
    pub wrapped_key: Vec<u8>,
    pub granted_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_count_rule() {
        assert_eq!(content_blocks(0), 1);
        assert_eq!(content_blocks(1), 1);
        assert_eq!(content_blocks(STORAGE_BLOCK_SIZE), 1);
        assert_eq!(content_blocks(STORAGE_BLOCK_SIZE + 1), 2);
        assert_eq!(content_blocks(1 << 30), 4096);
        assert_eq!(
            content_blocks(MAX_CONTENT_BLOCKS * STORAGE_BLOCK_SIZE),
            MAX_CONTENT_BLOCKS
        );
        assert_eq!(content_blocks(u64::MAX), u64::MAX / STORAGE_BLOCK_SIZE + 1);
    }

    #[test]
    fn modes_parse_and_print() {
        for m in [StorageMode::ReadOnly, StorageMode::Writable] {
            assert_eq!(m.as_str().parse::<StorageMode>(), Ok(m));
        }
        assert!("rx".parse::<StorageMode>().is_err());
    }
}
