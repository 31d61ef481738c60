//! PDFS, umbra's content storage core: how a file becomes verifiable,
//! optionally encrypted blocks, and how a node keeps those blocks on disk.
//!
//! Owns:
//! - chunking: a content is cut into [`BLOCK_SIZE`] (256 KiB) blocks, read as
//!   a stream so a file of any size (up to [`MAX_CONTENT_BYTES`]) is never held
//!   in memory whole ([`encode_stream`]);
//! - per-block encryption: AES-256-GCM under a fresh random [`ContentKey`] per
//!   content, a nonce derived from the block index and the block's index and
//!   "last" flag in the associated data, so blocks can be neither reordered
//!   nor dropped from the end ([`seal_block`], [`open_block`]). This is what
//!   Phantasma got wrong (one fixed nonce for every chunk, the owner's
//!   signing key as the cipher key); see `shared/REFERENCES.md`;
//! - key wrapping: a content key is HPKE-sealed to each reader's X25519 key,
//!   bound to the content id ([`wrap_key`], [`unwrap_key`]);
//! - manifests: size, scheme and the ordered block ids; the content id is the
//!   Merkle root of the block ids ([`Manifest`]);
//! - the local block store of a storage node or client cache, with capacity
//!   accounting and garbage collection ([`BlockStore`]);
//! - placement: which nodes are closest to a block in the XOR keyspace
//!   ([`closest`]).
//!
//! Must not: touch the network, the chain state or consensus, start threads
//! of its own (parallel work runs on rayon's pool) or log (one exception:
//! the block store warns once if the filesystem refuses `O_DIRECT` and it
//! falls back to the slower buffered I/O, which its caller could not
//! otherwise tell). Deciding which
//! contents are paid for, which blocks to fetch from whom, and when to run
//! garbage collection is the node's business; this crate only answers the
//! questions it is asked, from the bytes it is given.
//!
//! Bird's-eye view of a content's life: `encode_stream` (`chunk` → `cipher` →
//! ids) gives a [`Manifest`] and hands each stored block to a sink (a
//! [`BlockStore`], the network); a reader gets the manifest, fetches blocks in
//! any order and checks each with [`decode_block`], which also decrypts.

// Nothing from disk, the network or a user file may reach a panic (DESIGN:
// no panic on input).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod chunk;
mod cipher;
mod decode;
mod encode;
mod error;
mod key;
mod limits;
mod manifest;
mod placement;
mod scheme;
mod staging;
mod store;

pub use cipher::{BLOCK_AAD_LABEL, block_id, block_nonce, open_block, seal_block};
pub use decode::decode_block;
pub use encode::{encode_owned, encode_stream, seal_stream};
pub use error::PdfsError;
pub use key::{CONTENT_KEY_INFO, ContentKey, MAX_WRAPPED_KEY_BYTES, unwrap_key, wrap_key};
pub use limits::{
    BLOCK_SIZE, MAX_BLOCKS, MAX_CONTENT_BYTES, MAX_MANIFEST_BYTES, MAX_STORED_BLOCK, TAG_BYTES,
};
pub use manifest::{MANIFEST_VERSION, Manifest, block_span, blocks_for};
pub use placement::{closest, distance, node_key};
pub use scheme::Scheme;
pub use staging::{MAX_STAGE_TICKET_BYTES, STAGE_TICKET_LABEL, StageTicket};
pub use store::{BlockStore, GcReport};

#[cfg(test)]
mod tests;
