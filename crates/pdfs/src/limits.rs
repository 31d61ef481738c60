//! The sizes every other module is bounded by.
//!
//! Block size and block count come from `umbra_types::storage`, the one
//! definition the chain prices allocations by; the assertions pin their
//! values, because changing either changes every content id.

/// Plaintext bytes per block. Every block but a content's last is exactly
/// this long.
pub const BLOCK_SIZE: usize = umbra_types::STORAGE_BLOCK_SIZE as usize;
const _: () = assert!(BLOCK_SIZE == 256 * 1024);

/// Bytes the AES-256-GCM tag adds to an encrypted block.
pub const TAG_BYTES: usize = 16;

/// The longest stored block of any scheme (a full encrypted block). Anything
/// longer is refused before it is hashed or written.
pub const MAX_STORED_BLOCK: usize = BLOCK_SIZE + TAG_BYTES;

/// Blocks per content: 16 GiB of plaintext. Bounds the manifest, and so what
/// a node must buffer before it can check any block of a content.
pub const MAX_BLOCKS: u64 = umbra_types::MAX_CONTENT_BLOCKS;
const _: () = assert!(MAX_BLOCKS == 65_536);

/// The largest content, in plaintext bytes.
pub const MAX_CONTENT_BYTES: u64 = MAX_BLOCKS * BLOCK_SIZE as u64;

/// The exact borsh length of a manifest with [`MAX_BLOCKS`] ids: version
/// (1) + size (8) + scheme (1) + vector length (4) + 32 bytes per id. No valid
/// manifest is longer, so longer input is refused before decoding.
pub const MAX_MANIFEST_BYTES: usize = 1 + 8 + 1 + 4 + 32 * MAX_BLOCKS as usize;
