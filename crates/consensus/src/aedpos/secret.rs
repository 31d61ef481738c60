//! The commit-reveal secrets: in values, out values, signatures.

use super::round::{Round, xor};
use umbra_types::{Hash, PublicKey, sha256, sha256_parts};

/// A miner's in value for `round`, derived from a secret only the miner's
/// node knows (never the signing key itself), so a restarted node reveals
/// exactly what it committed before the restart.
pub fn in_value(secret: &[u8; 32], round: u64) -> Hash {
    sha256_parts(&[b"umbra/aedpos/in-value", secret, &round.to_be_bytes()])
}

/// out value = H(in value).
pub fn out_value(in_value: &Hash) -> Hash {
    sha256(&in_value.0)
}

/// The signature a miner gets in the round after `previous`:
/// H(previous in value ⊕ fold(previous round's signatures)). A miner that
/// did not mine in `previous` has nothing to reveal and gets
/// H(fold ‖ its key), which it cannot choose either.
pub fn signature(previous: Option<&Round>, previous_in_value: &Hash, miner: &PublicKey) -> Hash {
    let fold = previous.map_or(Hash::ZERO, Round::signature_fold);
    if *previous_in_value == Hash::ZERO {
        sha256_parts(&[b"umbra/aedpos/fresh", &fold.0, &miner.0])
    } else {
        sha256(&xor(previous_in_value, &fold).0)
    }
}
