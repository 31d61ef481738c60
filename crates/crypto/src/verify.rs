//! ZIP-215 verification, single and batched.

use ed25519_zebra::{Signature as ZSignature, VerificationKey, VerificationKeyBytes, batch};
use rand_core::OsRng;
use umbra_types::{Block, Hash, PublicKey, Signature, Transaction};

/// Why a signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("public key is not a valid ed25519 point")]
    BadPublicKey,
    #[error("signature does not verify")]
    Invalid,
}

/// Verifies a signature over a 32-byte digest.
pub fn verify(public: &PublicKey, digest: &Hash, sig: &Signature) -> Result<(), SignatureError> {
    let vk = VerificationKey::try_from(public.0).map_err(|_| SignatureError::BadPublicKey)?;
    let sig = ZSignature::from_bytes(&sig.0);
    vk.verify(&sig, &digest.0)
        .map_err(|_| SignatureError::Invalid)
}

pub fn verify_transaction(tx: &Transaction) -> Result<(), SignatureError> {
    verify(&tx.sender, &tx.signing_hash(), &tx.signature)
}

pub fn verify_block_signature(block: &Block) -> Result<(), SignatureError> {
    let h = &block.header;
    verify(&h.proposer, &h.signing_hash(), &h.signature)
}

/// Verifies many `(key, digest, signature)` triples at once. Under ZIP-215 a
/// batch passes exactly when every item would pass alone, so callers may use
/// either. Returns `Ok` only if all are valid; on failure the caller falls back
/// to single verification to find which ones.
pub fn verify_batch(items: &[(PublicKey, Hash, Signature)]) -> Result<(), SignatureError> {
    let mut v = batch::Verifier::new();
    for (pk, digest, sig) in items {
        let vkb = VerificationKeyBytes::from(pk.0);
        v.queue((vkb, ZSignature::from_bytes(&sig.0), &digest.0));
    }
    v.verify(OsRng).map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Keypair, dev_keypair};
    use proptest::prelude::*;
    use umbra_types::sha256;

    #[test]
    fn sign_and_verify() {
        let k = dev_keypair("alice");
        let d = sha256(b"hello");
        let s = k.sign_hash(&d);
        assert_eq!(verify(&k.public(), &d, &s), Ok(()));
        assert_eq!(
            verify(&k.public(), &sha256(b"other"), &s),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&dev_keypair("bob").public(), &d, &s),
            Err(SignatureError::Invalid)
        );
        // Dev keys are stable across runs.
        assert_eq!(dev_keypair("alice").public(), k.public());
        assert_ne!(Keypair::generate().public(), Keypair::generate().public());
    }

    /// ZIP-215 in particular, not strict RFC 8032: a small-order key (the
    /// identity) with R = identity and s = 0 satisfies the cofactored
    /// equation for every message, so it is valid, single and batched; a
    /// strict verifier refuses it. Nodes must agree on such edge cases.
    #[test]
    fn zip215_accepts_small_order_keys() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let (pk, sig) = (PublicKey(identity), Signature(sig));
        for msg in [&b"a"[..], b"anything"] {
            let d = sha256(msg);
            assert_eq!(verify(&pk, &d, &sig), Ok(()));
            assert_eq!(verify_batch(&[(pk, d, sig)]), Ok(()));
        }
        // A non-canonical s (s >= l) is refused.
        let mut big_s = sig.0;
        big_s[32..].fill(0xff);
        assert_eq!(
            verify(&pk, &sha256(b"a"), &Signature(big_s)),
            Err(SignatureError::Invalid)
        );
    }

    proptest! {
        // Batch and single verification agree on random mixes of valid and corrupted signatures.
        #[test]
        fn batch_agrees_with_single(n in 1usize..12, corrupt in proptest::collection::vec(any::<bool>(), 12), byte in 0usize..64) {
            let items: Vec<_> = (0..n).map(|i| {
                let k = Keypair::from_seed([i as u8 + 1; 32]);
                let d = sha256(&[i as u8]);
                let mut s = k.sign_hash(&d);
                if corrupt[i] { s.0[byte] ^= 0x01; }
                (k.public(), d, s)
            }).collect();
            let single_ok = items.iter().all(|(p, d, s)| verify(p, d, s).is_ok());
            prop_assert_eq!(verify_batch(&items).is_ok(), single_ok);
        }
    }
}
