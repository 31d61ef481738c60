//! Ed25519 signing keys.

use crate::EncryptionKeypair;
use ed25519_zebra::SigningKey;
use rand_core::OsRng;
use umbra_types::{
    Address, Block, Hash, PublicKey, Signature, Transaction, UnsignedTransaction, sha256,
};
use zeroize::Zeroize;

/// Names of the deterministic devnet accounts (`dev:alice` …).
pub const DEV_ACCOUNT_NAMES: [&str; 10] = [
    "alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy",
];

/// A signing key with its public key.
#[derive(Clone)]
pub struct Keypair {
    secret: SigningKey,
    public: PublicKey,
}

impl Keypair {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        Self::from_seed(SigningKey::new(OsRng).to_bytes())
    }

    /// The key whose 32-byte secret seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let secret = SigningKey::from(seed);
        let public = PublicKey(secret.verification_key().into());
        Keypair { secret, public }
    }

    pub fn seed(&self) -> [u8; 32] {
        self.secret.to_bytes()
    }

    /// This account's X25519 key for receiving HPKE envelopes, derived from
    /// the seed under its own domain label (see [`EncryptionKeypair::derive`]).
    pub fn encryption_keypair(&self) -> EncryptionKeypair {
        let mut seed = self.seed();
        let keypair = EncryptionKeypair::derive(&seed);
        seed.zeroize();
        keypair
    }

    pub fn public(&self) -> PublicKey {
        self.public
    }

    pub fn address(&self) -> Address {
        self.public.address()
    }

    /// Signs a 32-byte digest.
    pub fn sign_hash(&self, digest: &Hash) -> Signature {
        Signature(self.secret.sign(&digest.0).to_bytes())
    }

    pub fn sign_transaction(&self, tx: UnsignedTransaction) -> Transaction {
        let sig = self.sign_hash(&tx.signing_hash());
        tx.with_signature(sig)
    }

    /// Sets the proposer and signs the header in place.
    pub fn sign_block(&self, block: &mut Block) {
        block.header.proposer = self.public;
        block.header.signature = self.sign_hash(&block.header.signing_hash());
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Keypair({})", self.address())
    }
}

/// The well-known key for a dev name. These keys are public knowledge: use
/// them only on local devnets.
pub fn dev_keypair(name: &str) -> Keypair {
    Keypair::from_seed(sha256(format!("umbra/dev-account/{name}").as_bytes()).0)
}
