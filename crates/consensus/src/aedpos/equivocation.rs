//! Equivocation: one miner signing two different blocks at one height.
//! Honest miners never do (each slot's blocks extend one chain), so two
//! such signed headers are evidence for slashing the miner's deposit.

use umbra_types::Header;

/// Two conflicting headers by one miner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    pub first: Header,
    pub second: Header,
}

/// Whether `a` and `b` are an equivocation. The caller checks both header
/// signatures; this only compares what they claim.
pub fn find_equivocation(a: &Header, b: &Header) -> Option<Equivocation> {
    (a.proposer == b.proposer
        && a.chain_id == b.chain_id
        && a.height == b.height
        && a.hash() != b.hash())
    .then(|| Equivocation {
        first: a.clone(),
        second: b.clone(),
    })
}
