//! JSON views of the election: candidates, their deposits and votes.

use serde::{Deserialize, Serialize};
use umbra_types::Address;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CandidateView {
    /// Public key, hex: what votes name.
    pub key: String,
    pub address: Address,
    /// Base units, decimal string.
    pub deposit: String,
    /// Tokens locked in votes for this candidate, base units.
    pub votes: String,
    pub active: bool,
    pub slashed: bool,
    pub announced_height: u64,
    /// Among the miners the election would choose now.
    pub elected: bool,
}

/// `election_candidates`: every candidate, best first (active, then by
/// votes, then by key), as of the head.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CandidatesView {
    pub height: u64,
    /// Miners elected per term.
    pub miners: u64,
    /// Tokens a candidate locks, base units.
    pub deposit: String,
    /// Shortest vote lock.
    pub min_vote_lock_ms: u64,
    pub candidates: Vec<CandidateView>,
}
