//! The manifest: what a content is made of, and the arithmetic of blocks and
//! byte ranges.
//!
//! The content id is the Merkle root of the block ids (umbra-types' tree),
//! so a storage node can prove that one block belongs to a content with a
//! Merkle proof, without the whole manifest. The id commits to the blocks,
//! not to `size` or `scheme`; those are checked against the blocks
//! themselves when they are decoded (every block's stored length follows
//! from `size` and `scheme`, see [`crate::decode_block`]).

use crate::error::PdfsError;
use crate::limits::{BLOCK_SIZE, MAX_BLOCKS, MAX_CONTENT_BYTES, MAX_MANIFEST_BYTES};
use crate::scheme::Scheme;
use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{DecodeError, Hash, MerkleProof, decode_bounded, merkle_proof, merkle_root};

/// The manifest format version this build writes and reads.
pub const MANIFEST_VERSION: u8 = 1;

const BLOCK: u64 = BLOCK_SIZE as u64;

/// The description of one content. Encoded with borsh; `version` is the
/// first byte so a later format is recognised before it is parsed.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u8,
    /// Plaintext length in bytes.
    pub size: u64,
    pub scheme: Scheme,
    /// Ids ([`crate::block_id`]) of the stored blocks, in order; exactly
    /// [`blocks_for`]`(size)` of them.
    pub block_ids: Vec<Hash>,
}

/// Blocks for a content of `size` bytes. An empty content still has one
/// block (of 0 plaintext bytes), so every content has a non-zero id, and an
/// encrypted one an id unique to its key.
pub fn blocks_for(size: u64) -> u64 {
    size.div_ceil(BLOCK).max(1)
}

/// The blocks covering plaintext bytes `[start, end)` of a content of `size`
/// bytes (`end` is clamped to `size`): `(first block, last block inclusive,
/// offset of start in the first block)`. `None` when the clamped range is
/// empty. For HTTP Range requests.
pub fn block_span(size: u64, start: u64, end: u64) -> Option<(u64, u64, u64)> {
    let end = end.min(size);
    if start >= end {
        return None;
    }
    Some((start / BLOCK, (end - 1) / BLOCK, start % BLOCK))
}

impl Manifest {
    /// A manifest of the current version, checked like a decoded one.
    pub fn new(size: u64, scheme: Scheme, block_ids: Vec<Hash>) -> Result<Self, PdfsError> {
        let m = Manifest {
            version: MANIFEST_VERSION,
            size,
            scheme,
            block_ids,
        };
        m.validate()?;
        Ok(m)
    }

    /// Checks what [`Manifest::decode`] checks after parsing: the version,
    /// the size limit and that there is exactly one id per block.
    pub fn validate(&self) -> Result<(), PdfsError> {
        if self.version != MANIFEST_VERSION {
            return Err(unknown_version(self.version));
        }
        if self.size > MAX_CONTENT_BYTES {
            return Err(PdfsError::BadManifest(format!(
                "size {} is over the {MAX_CONTENT_BYTES}-byte limit",
                self.size
            )));
        }
        let count = self.block_count();
        if count > MAX_BLOCKS {
            return Err(PdfsError::BadManifest(format!(
                "{count} blocks is over the limit of {MAX_BLOCKS}"
            )));
        }
        let expected = blocks_for(self.size);
        if count != expected {
            return Err(PdfsError::BadManifest(format!(
                "{count} block ids for {} bytes, which take {expected} blocks",
                self.size
            )));
        }
        Ok(())
    }

    /// The content id: the Merkle root of the block ids.
    pub fn content_id(&self) -> Hash {
        merkle_root(&self.block_ids)
    }

    pub fn block_count(&self) -> u64 {
        self.block_ids.len() as u64
    }

    /// The canonical (borsh) encoding.
    pub fn encode(&self) -> Vec<u8> {
        umbra_types::encode(self)
    }

    /// Decodes untrusted bytes: at most [`MAX_MANIFEST_BYTES`], version
    /// first, no trailing bytes, then [`Manifest::validate`].
    pub fn decode(bytes: &[u8]) -> Result<Manifest, PdfsError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(PdfsError::TooLarge {
                what: "manifest",
                len: bytes.len() as u64,
                max: MAX_MANIFEST_BYTES as u64,
            });
        }
        // The version byte comes first in the encoding: a later format is
        // reported as such rather than as garbage.
        match bytes.first() {
            Some(&MANIFEST_VERSION) => {}
            Some(&v) => return Err(unknown_version(v)),
            None => return Err(PdfsError::BadManifest("empty input".into())),
        }
        let m: Manifest = decode_bounded(bytes, MAX_MANIFEST_BYTES).map_err(|e| match e {
            DecodeError::TooLarge { size, limit } => PdfsError::TooLarge {
                what: "manifest",
                len: size as u64,
                max: limit as u64,
            },
            DecodeError::Malformed(msg) => PdfsError::BadManifest(msg),
        })?;
        m.validate()?;
        Ok(m)
    }

    /// The proof that block `index` belongs to [`Manifest::content_id`].
    pub fn proof(&self, index: u64) -> Option<MerkleProof> {
        merkle_proof(&self.block_ids, usize::try_from(index).ok()?)
    }

    /// Plaintext bytes in block `index`; `None` past the end (or for a
    /// manifest whose size and block count disagree).
    pub fn plain_len(&self, index: u64) -> Option<u64> {
        let count = self.block_count();
        if index >= count {
            None
        } else if index + 1 < count {
            Some(BLOCK)
        } else {
            // The last block holds what the full ones before it do not.
            self.size.checked_sub((count - 1).checked_mul(BLOCK)?)
        }
    }

    /// Stored bytes of block `index`: the plaintext plus the scheme's tag.
    pub fn stored_len(&self, index: u64) -> Option<u64> {
        Some(self.plain_len(index)? + self.scheme.overhead() as u64)
    }
}

fn unknown_version(v: u8) -> PdfsError {
    PdfsError::BadManifest(format!(
        "unknown manifest version {v} (this build reads version {MANIFEST_VERSION})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::sha256;

    fn ids(n: u64) -> Vec<Hash> {
        (0..n).map(|i| sha256(&i.to_le_bytes())).collect()
    }

    fn manifest(size: u64) -> Manifest {
        Manifest::new(size, Scheme::Aes256Gcm, ids(blocks_for(size))).unwrap()
    }

    fn is_bad(r: Result<Manifest, PdfsError>) -> bool {
        matches!(r, Err(PdfsError::BadManifest(_)))
    }

    #[test]
    fn blocks_for_sizes() {
        assert_eq!(blocks_for(0), 1);
        assert_eq!(blocks_for(1), 1);
        assert_eq!(blocks_for(BLOCK - 1), 1);
        assert_eq!(blocks_for(BLOCK), 1);
        assert_eq!(blocks_for(BLOCK + 1), 2);
        assert_eq!(blocks_for(3 * BLOCK + 1), 4);
        assert_eq!(blocks_for(MAX_CONTENT_BYTES), MAX_BLOCKS);
        assert_eq!(blocks_for(u64::MAX), u64::MAX / BLOCK + 1);
        // The chain prices allocations by the same count.
        for size in [
            0,
            1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            7 * BLOCK,
            MAX_CONTENT_BYTES,
            u64::MAX,
        ] {
            assert_eq!(
                blocks_for(size),
                umbra_types::content_blocks(size),
                "{size}"
            );
        }
    }

    #[test]
    fn block_span_edges() {
        let size = 3 * BLOCK + 10;
        assert_eq!(block_span(size, 5, 5), None);
        assert_eq!(block_span(size, 6, 5), None);
        assert_eq!(block_span(size, size, size + 100), None);
        assert_eq!(block_span(0, 0, 10), None);
        assert_eq!(block_span(size, 0, 1), Some((0, 0, 0)));
        assert_eq!(block_span(size, 0, u64::MAX), Some((0, 3, 0)));
        // The last byte.
        assert_eq!(block_span(size, size - 1, size), Some((3, 3, 9)));
        // End past size is clamped.
        assert_eq!(
            block_span(size, 2 * BLOCK + 7, size + 1_000_000),
            Some((2, 3, 7))
        );
        // Block boundaries: [BLOCK-1, BLOCK+1) straddles; [BLOCK, 2*BLOCK) is
        // exactly block 1; end exclusive at a boundary stays in the block before.
        assert_eq!(
            block_span(size, BLOCK - 1, BLOCK + 1),
            Some((0, 1, BLOCK - 1))
        );
        assert_eq!(block_span(size, BLOCK, 2 * BLOCK), Some((1, 1, 0)));
        assert_eq!(block_span(size, 0, BLOCK), Some((0, 0, 0)));
        assert_eq!(block_span(size, BLOCK - 1, BLOCK), Some((0, 0, BLOCK - 1)));
    }

    #[test]
    fn lengths() {
        let m = manifest(3 * BLOCK + 1);
        assert_eq!(m.block_count(), 4);
        assert_eq!(m.plain_len(0), Some(BLOCK));
        assert_eq!(m.plain_len(2), Some(BLOCK));
        assert_eq!(m.plain_len(3), Some(1));
        assert_eq!(m.plain_len(4), None);
        assert_eq!(m.stored_len(3), Some(17));
        assert_eq!(m.stored_len(0), Some(BLOCK + 16));
        let empty = Manifest::new(0, Scheme::Public, ids(1)).unwrap();
        assert_eq!(empty.plain_len(0), Some(0));
        assert_eq!(empty.stored_len(0), Some(0));
        let full = Manifest::new(2 * BLOCK, Scheme::Public, ids(2)).unwrap();
        assert_eq!(full.plain_len(1), Some(BLOCK));
        // An inconsistent manifest built by hand gives None, not a panic.
        let bad = Manifest {
            version: 1,
            size: 5,
            scheme: Scheme::Public,
            block_ids: ids(3),
        };
        assert_eq!(bad.plain_len(2), None);
    }

    #[test]
    fn round_trip_and_exact_bound() {
        for size in [0, 1, BLOCK, 5 * BLOCK + 3] {
            let m = manifest(size);
            assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
        }
        let biggest = manifest(MAX_CONTENT_BYTES);
        let bytes = biggest.encode();
        assert_eq!(bytes.len(), MAX_MANIFEST_BYTES);
        assert_eq!(Manifest::decode(&bytes).unwrap(), biggest);
    }

    #[test]
    fn decode_rejects() {
        let good = manifest(2 * BLOCK + 1).encode();
        // Wrong version, including one whose layout might differ.
        for v in [0u8, 2, 255] {
            let mut b = good.clone();
            b[0] = v;
            assert!(is_bad(Manifest::decode(&b)));
        }
        // Block count inconsistent with size, both ways.
        for (size, n) in [(2 * BLOCK + 1, 2), (2 * BLOCK + 1, 4), (0, 2), (BLOCK, 2)] {
            let m = Manifest {
                version: 1,
                size,
                scheme: Scheme::Public,
                block_ids: ids(n),
            };
            assert!(is_bad(Manifest::decode(&m.encode())), "{size} {n}");
            assert!(m.validate().is_err());
        }
        // Zero blocks.
        let m = Manifest {
            version: 1,
            size: 0,
            scheme: Scheme::Public,
            block_ids: vec![],
        };
        assert!(is_bad(Manifest::decode(&m.encode())));
        // Size over the limit.
        let m = Manifest {
            version: 1,
            size: u64::MAX,
            scheme: Scheme::Public,
            block_ids: ids(1),
        };
        assert!(is_bad(Manifest::decode(&m.encode())));
        // More than MAX_BLOCKS ids: longer than any valid manifest.
        let m = Manifest {
            version: 1,
            size: MAX_CONTENT_BYTES + 1,
            scheme: Scheme::Public,
            block_ids: ids(MAX_BLOCKS + 1),
        };
        assert!(matches!(
            Manifest::decode(&m.encode()),
            Err(PdfsError::TooLarge { .. })
        ));
        assert!(m.validate().is_err());
        // Trailing bytes.
        let mut b = good.clone();
        b.push(0);
        assert!(is_bad(Manifest::decode(&b)));
        // Truncated, empty, unknown scheme tag.
        assert!(is_bad(Manifest::decode(&good[..good.len() - 1])));
        assert!(is_bad(Manifest::decode(&[])));
        let mut b = good.clone();
        b[9] = 7;
        assert!(is_bad(Manifest::decode(&b)));
        // Oversize input is refused before parsing.
        let mut huge = vec![1u8; MAX_MANIFEST_BYTES + 1];
        huge[0] = MANIFEST_VERSION;
        assert!(matches!(
            Manifest::decode(&huge),
            Err(PdfsError::TooLarge { .. })
        ));
        // A length prefix claiming 2^32-1 ids in a short input.
        let mut b = vec![1u8];
        b.extend_from_slice(&5u64.to_le_bytes());
        b.push(0);
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(is_bad(Manifest::decode(&b)));
    }

    #[test]
    fn proofs_verify_for_every_index() {
        for n in [1u64, 2, 3, 7, 16, 33] {
            let m = Manifest::new((n - 1) * BLOCK + 1, Scheme::Public, ids(n)).unwrap();
            let root = m.content_id();
            assert_ne!(root, Hash::ZERO);
            for i in 0..n {
                let p = m.proof(i).unwrap();
                assert!(p.verify(&m.block_ids[i as usize], &root));
                assert!(!p.verify(&sha256(b"not a block"), &root));
            }
            assert!(m.proof(n).is_none());
            assert!(m.proof(u64::MAX).is_none());
        }
    }
}
