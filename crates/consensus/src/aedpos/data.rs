//! What a block carries in its header's consensus bytes under AEDPoS.

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{DecodeError, Hash, PublicKey, decode_bounded, encode};

/// Consensus bytes are small; anything larger is refused before decoding.
pub const MAX_CONSENSUS_BYTES: usize = 16 * 1024;

/// What a block does to the round.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Behaviour {
    /// The miner's first block in its slot: commits H(in value) for this
    /// round and reveals the in value it committed the round before
    /// (zero if it did not mine then).
    UpdateValue {
        out_value: Hash,
        previous_in_value: Hash,
    },
    /// A further block in the same slot.
    TinyBlock,
    /// Closes the round and starts the next one, whose order every node
    /// derives from the closed round's signatures.
    NextRound,
    /// Closes the last round of a term and starts a term with `miners`
    /// (which must be what the election chose).
    NextTerm { miners: Vec<PublicKey> },
}

/// The header's consensus bytes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ConsensusData {
    /// The round the block belongs to (the new one for `NextRound`/`NextTerm`).
    pub round: u64,
    pub behaviour: Behaviour,
}

impl ConsensusData {
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_bounded(bytes, MAX_CONSENSUS_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_limits() {
        let d = ConsensusData {
            round: 7,
            behaviour: Behaviour::UpdateValue {
                out_value: Hash([1; 32]),
                previous_in_value: Hash::ZERO,
            },
        };
        assert_eq!(ConsensusData::from_bytes(&d.to_bytes()), Ok(d.clone()));
        let mut long = d.to_bytes();
        long.push(0);
        assert!(ConsensusData::from_bytes(&long).is_err());
        assert!(ConsensusData::from_bytes(&vec![0u8; MAX_CONSENSUS_BYTES + 1]).is_err());
        // A term change claiming four billion miners is refused, not allocated.
        let mut huge = encode(&8u64);
        huge.push(3);
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(ConsensusData::from_bytes(&huge).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ConsensusData::from_bytes(&bytes);
        }
    }
}
