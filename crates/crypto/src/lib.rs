//! Signing, consensus-safe signature verification, and encryption to keys.
//!
//! Owns: ed25519 keys and signatures under ZIP-215 rules (`ed25519-zebra`, the
//! rules' reference implementation),
//! so single and batch verification accept exactly the same signatures and
//! nodes can never split on a borderline signature; deterministic dev keys;
//! each account's X25519 encryption key, derived from its ed25519 seed under
//! a domain label; HPKE (RFC 9180, base mode, X25519 / HKDF-SHA256 /
//! ChaCha20-Poly1305) sealing to such keys into versioned, size-bounded
//! envelopes (`encryption`).
//!
//! Must not: do IO or know about state; the caller decides what a valid
//! signature means for the chain and what an envelope's `info` and `aad` bind
//! it to.

mod encryption;
mod keypair;
mod verify;
mod verify_parallel;

pub use encryption::{
    BOX_MESSAGE_INFO, ENCAPSULATED_KEY_BYTES, ENCRYPTION_KEY_LABEL, ENVELOPE_OVERHEAD,
    ENVELOPE_VERSION, EncryptionError, EncryptionKeypair, MAX_ENVELOPE_BYTES, MAX_PLAINTEXT_BYTES,
    TAG_BYTES, open, seal,
};
pub use keypair::{DEV_ACCOUNT_NAMES, Keypair, dev_keypair};
pub use verify::{
    SignatureError, verify, verify_batch, verify_block_signature, verify_transaction,
};
pub use verify_parallel::{first_invalid_signature, verify_transactions_parallel};
