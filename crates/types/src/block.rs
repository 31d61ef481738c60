//! Block headers and blocks.

use crate::hash::{Hash, sha256_parts};
use crate::keys::{PublicKey, Signature};
use crate::transaction::Transaction;
use crate::{ChainId, Height, codec};
use borsh::{BorshDeserialize, BorshSerialize};

/// Domain separator for block signatures.
pub const BLOCK_SIGNING_DOMAIN: &[u8] = b"umbra/block/v1";

/// A block header. Its hash covers every field except the signature, so the
/// hash is fixed before the proposer signs it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Header {
    pub chain_id: ChainId,
    pub height: Height,
    pub parent_hash: Hash,
    pub timestamp_ms: u64,
    pub proposer: PublicKey,
    /// Merkle root over the transaction hashes, in block order.
    pub tx_root: Hash,
    /// Root of the state tree after this block.
    pub state_root: Hash,
    /// Merkle root over the receipt hashes, in block order.
    pub receipts_root: Hash,
    /// Opaque to everything but the consensus engine.
    pub consensus: Vec<u8>,
    pub signature: Signature,
}

#[derive(BorshSerialize)]
struct UnsignedHeaderRef<'a> {
    chain_id: ChainId,
    height: Height,
    parent_hash: &'a Hash,
    timestamp_ms: u64,
    proposer: &'a PublicKey,
    tx_root: &'a Hash,
    state_root: &'a Hash,
    receipts_root: &'a Hash,
    consensus: &'a Vec<u8>,
}

impl Header {
    /// The block hash: SHA-256 of the canonical encoding of all fields but the
    /// signature.
    pub fn hash(&self) -> Hash {
        let unsigned = UnsignedHeaderRef {
            chain_id: self.chain_id,
            height: self.height,
            parent_hash: &self.parent_hash,
            timestamp_ms: self.timestamp_ms,
            proposer: &self.proposer,
            tx_root: &self.tx_root,
            state_root: &self.state_root,
            receipts_root: &self.receipts_root,
            consensus: &self.consensus,
        };
        crate::sha256(&codec::encode(&unsigned))
    }

    /// What the proposer signs.
    pub fn signing_hash(&self) -> Hash {
        sha256_parts(&[BLOCK_SIGNING_DOMAIN, &self.hash().0])
    }
}

/// A header with its transactions.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    pub header: Header,
    pub transactions: Vec<Transaction>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_bounded, encode};
    use proptest::prelude::*;

    fn header(consensus: Vec<u8>, sig: u8) -> Header {
        Header {
            chain_id: 1,
            height: 5,
            parent_hash: crate::sha256(b"p"),
            timestamp_ms: 1000,
            proposer: PublicKey([1; 32]),
            tx_root: Hash::ZERO,
            state_root: crate::sha256(b"s"),
            receipts_root: Hash::ZERO,
            consensus,
            signature: Signature([sig; 64]),
        }
    }

    #[test]
    fn hash_ignores_signature_but_covers_fields() {
        assert_eq!(header(vec![], 1).hash(), header(vec![], 2).hash());
        assert_ne!(header(vec![], 1).hash(), header(vec![9], 1).hash());
    }

    proptest! {
        #[test]
        fn round_trip(consensus in proptest::collection::vec(any::<u8>(), 0..64), sig in any::<u8>()) {
            let b = Block { header: header(consensus, sig), transactions: vec![] };
            let back: Block = decode_bounded(&encode(&b), 1 << 20).unwrap();
            prop_assert_eq!(back, b);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = decode_bounded::<Block>(&bytes, 1 << 20);
            let _ = decode_bounded::<Header>(&bytes, 1 << 20);
        }
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A header whose consensus field claims 4 GiB must fail on EOF, not abort on allocation.
        let mut bytes = encode(&header(vec![], 0));
        let at = 8 + 8 + 32 + 8 + 32 + 32 * 3;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_bounded::<Header>(&bytes, 1 << 20).is_err());
    }
}
