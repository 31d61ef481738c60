//! State keys of the election module, all under the prefix `v`.

use umbra_types::{Address, PublicKey};

pub const PREFIX: u8 = b'v';

/// A candidate's record.
pub fn candidate(key: &PublicKey) -> Vec<u8> {
    let mut k = vec![PREFIX, b'c'];
    k.extend_from_slice(&key.0);
    k
}

/// Every key that ever announced, in announcement order (bounded).
pub fn candidate_list() -> Vec<u8> {
    vec![PREFIX, b'l']
}

/// A voter's vote number `id`.
pub fn vote(voter: &Address, id: u64) -> Vec<u8> {
    let mut k = vec![PREFIX, b'v'];
    k.extend_from_slice(&voter.0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The number of votes a voter has cast (the next vote's id).
pub fn vote_count(voter: &Address) -> Vec<u8> {
    let mut k = vec![PREFIX, b'n'];
    k.extend_from_slice(&voter.0);
    k
}
