//! Signing and consensus-safe signature verification.
//!
//! Owns: ed25519 keys and signatures under ZIP-215 rules (`ed25519-consensus`),
//! so single and batch verification accept exactly the same signatures and
//! nodes can never split on a borderline signature; deterministic dev keys.
//! HPKE key wrapping and content AEAD arrive here with the boxes and storage
//! work.
//!
//! Must not: do IO or know about state; the caller decides what a valid
//! signature means for the chain.

mod keypair;
mod verify;
mod verify_parallel;

pub use keypair::{DEV_ACCOUNT_NAMES, Keypair, dev_keypair};
pub use verify::{
    SignatureError, verify, verify_batch, verify_block_signature, verify_transaction,
};
pub use verify_parallel::{first_invalid_signature, verify_transactions_parallel};
