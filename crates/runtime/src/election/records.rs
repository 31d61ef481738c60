//! Records the election module keeps in state.

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{Amount, Height, PublicKey};

#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Candidate {
    /// Locked while a candidate; returned on quitting, lost when slashed.
    pub deposit: Amount,
    /// Tokens locked in votes for this candidate and not withdrawn.
    pub votes: Amount,
    pub active: bool,
    /// Caught equivocating: can never be a candidate again.
    pub slashed: bool,
    pub announced_height: Height,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    pub candidate: PublicKey,
    pub amount: Amount,
    pub unlock_ms: u64,
    pub withdrawn: bool,
}
