//! Staged uploads: the signed ticket a client shows a storage node to upload
//! a content's blocks *before* the content is allocated on chain.
//!
//! Block ids need the ciphertext, and the allocation needs the content id
//! (the Merkle root of the block ids), so without staging a client reads
//! and encrypts its file twice: once for the manifest, once to upload. With
//! a ticket it uploads while it hashes, then allocates, then hands the node
//! the manifest, which adopts the staged blocks (like an S3 multipart
//! upload, or a Filecoin deal whose data moves before the deal is on chain).
//!
//! The ticket is what keeps staging from being free storage for anyone: it
//! names the owner's key, the bytes wanted and the node it is for, and is
//! signed by the owner. The node checks the owner could pay for what it
//! stages, bounds all staging, and drops unadopted blocks once a session
//! goes idle. This module owns only the ticket's bytes and digest.

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{Hash, PublicKey, Signature, sha256};

/// Domain label of the signed digest, so a ticket's signature can never be
/// taken for a transaction's or a block's.
pub const STAGE_TICKET_LABEL: &[u8] = b"umbra/pdfs/stage-ticket/v1";

/// The longest encoded ticket: key (32) + size (8) + time (8) + node id
/// (4 + at most 64) + signature (64). Longer input is refused unread.
pub const MAX_STAGE_TICKET_BYTES: usize = 32 + 8 + 8 + 4 + 64 + 64;

/// What an owner signs to stage up to `size` plaintext bytes on one node.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StageTicket {
    /// The paying account's key (its address is what pays later).
    pub owner: PublicKey,
    /// Plaintext bytes of the content to be staged.
    pub size: u64,
    /// When the ticket was made (ms since the Unix epoch); nodes accept it
    /// only within a few minutes of their own clock.
    pub timestamp_ms: u64,
    /// The libp2p identity (bytes) of the node it is for, so it cannot be
    /// replayed at another node.
    pub node: Vec<u8>,
    /// The owner's signature over [`StageTicket::digest`].
    pub signature: Signature,
}

impl StageTicket {
    /// The digest the owner signs: everything but the signature, under
    /// [`STAGE_TICKET_LABEL`].
    pub fn digest(&self) -> Hash {
        let unsigned = (&self.owner, self.size, self.timestamp_ms, &self.node);
        sha256(&[STAGE_TICKET_LABEL, &umbra_types::encode(&unsigned)].concat())
    }

    pub fn encode(&self) -> Vec<u8> {
        umbra_types::encode(self)
    }

    /// Decodes a ticket, refusing input over [`MAX_STAGE_TICKET_BYTES`]
    /// before reading it.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_STAGE_TICKET_BYTES {
            return Err(format!(
                "a stage ticket is at most {MAX_STAGE_TICKET_BYTES} bytes, got {}",
                bytes.len()
            ));
        }
        StageTicket::try_from_slice(bytes).map_err(|e| format!("malformed stage ticket: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> StageTicket {
        StageTicket {
            owner: PublicKey([7; 32]),
            size: 1 << 30,
            timestamp_ms: 1_700_000_000_000,
            node: vec![1; 38],
            signature: Signature([9; 64]),
        }
    }

    #[test]
    fn tickets_round_trip_and_longer_input_is_refused() {
        let t = ticket();
        let bytes = t.encode();
        assert!(bytes.len() <= MAX_STAGE_TICKET_BYTES);
        assert_eq!(StageTicket::decode(&bytes).unwrap(), t);
        let mut long = t.clone();
        long.node = vec![0; 200];
        assert!(StageTicket::decode(&long.encode()).is_err());
        assert!(StageTicket::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn the_digest_covers_every_signed_field_but_not_the_signature() {
        let t = ticket();
        let d = t.digest();
        let mut s = t.clone();
        s.signature = Signature([1; 64]);
        assert_eq!(s.digest(), d);
        for change in [
            |t: &mut StageTicket| t.owner.0[0] ^= 1,
            |t: &mut StageTicket| t.size += 1,
            |t: &mut StageTicket| t.timestamp_ms += 1,
            |t: &mut StageTicket| t.node.push(0),
        ] {
            let mut c = t.clone();
            change(&mut c);
            assert_ne!(c.digest(), d);
        }
    }
}
