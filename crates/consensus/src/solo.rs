//! `solo`: one authority, one block per interval, blocks on time even when
//! empty. For devnets; it offers no fault tolerance.

use crate::{Consensus, ConsensusError, Slot};
use umbra_types::{Header, Height, PublicKey};

#[derive(Clone, Debug)]
pub struct Solo {
    pub authority: PublicKey,
    pub interval_ms: u64,
}

impl Consensus for Solo {
    fn name(&self) -> &'static str {
        "solo"
    }

    fn next_slot(&self, parent: &Header, proposer: &PublicKey, now_ms: u64) -> Option<Slot> {
        if *proposer != self.authority {
            return None;
        }
        let on_time = parent.timestamp_ms.saturating_add(self.interval_ms.max(1));
        // After downtime the next block carries the current time instead of
        // producing a burst of back-dated blocks.
        Some(Slot {
            timestamp_ms: on_time.max(now_ms.saturating_sub(self.interval_ms)),
            consensus: vec![],
        })
    }

    fn verify_header(&self, header: &Header, parent: &Header) -> Result<(), ConsensusError> {
        if header.proposer != self.authority {
            return Err(ConsensusError::NotAuthority(
                header.proposer.address().to_string(),
            ));
        }
        if header.timestamp_ms <= parent.timestamp_ms {
            return Err(ConsensusError::TimestampNotIncreasing {
                parent: parent.timestamp_ms,
                got: header.timestamp_ms,
            });
        }
        if !header.consensus.is_empty() {
            return Err(ConsensusError::UnexpectedConsensusBytes(
                header.consensus.len(),
            ));
        }
        Ok(())
    }

    fn irreversible_height(&self, head: &Header) -> Height {
        // One authority: nothing can build a competing chain.
        head.height
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::{Hash, Signature};

    fn header(ts: u64, proposer: PublicKey) -> Header {
        Header {
            chain_id: 1,
            height: 1,
            parent_hash: Hash::ZERO,
            timestamp_ms: ts,
            proposer,
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            consensus: vec![],
            signature: Signature::default(),
        }
    }

    #[test]
    fn slots_follow_the_interval() {
        let auth = PublicKey([1; 32]);
        let s = Solo {
            authority: auth,
            interval_ms: 1000,
        };
        let parent = header(5_000, auth);
        assert_eq!(
            s.next_slot(&parent, &auth, 5_100).unwrap().timestamp_ms,
            6_000
        );
        // Long downtime: the next block is not back-dated.
        assert_eq!(
            s.next_slot(&parent, &auth, 60_000).unwrap().timestamp_ms,
            59_000
        );
        assert!(s.next_slot(&parent, &PublicKey([2; 32]), 5_100).is_none());
    }

    #[test]
    fn header_rules() {
        let auth = PublicKey([1; 32]);
        let s = Solo {
            authority: auth,
            interval_ms: 1000,
        };
        let parent = header(5_000, auth);
        assert_eq!(s.verify_header(&header(6_000, auth), &parent), Ok(()));
        assert!(matches!(
            s.verify_header(&header(6_000, PublicKey([2; 32])), &parent),
            Err(ConsensusError::NotAuthority(_))
        ));
        assert!(matches!(
            s.verify_header(&header(5_000, auth), &parent),
            Err(ConsensusError::TimestampNotIncreasing { .. })
        ));
        let mut h = header(6_000, auth);
        h.consensus = vec![1];
        assert_eq!(
            s.verify_header(&h, &parent),
            Err(ConsensusError::UnexpectedConsensusBytes(1))
        );
    }
}
