//! Content keys and their wrapping to readers.
//!
//! Every content gets a fresh random key (never one derived from an account
//! key: Phantasma keyed content with the owner's signing key, so one leak
//! exposed everything, and reusing a key across contents would reuse GCM
//! nonces). Readers get the key HPKE-sealed to their X25519 encryption key.

use crate::error::PdfsError;
use rand_core::{OsRng, RngCore};
use umbra_crypto::{ENVELOPE_OVERHEAD, EncryptionError, EncryptionKeypair};
use umbra_types::Hash;
use zeroize::Zeroize;

/// HPKE `info` for wrapped content keys: an envelope made for another
/// purpose (a box message, say) never opens as a content key.
pub const CONTENT_KEY_INFO: &[u8] = b"umbra/pdfs/content-key/v1";

/// The length of a wrapped key (the HPKE envelope of 32 bytes). Every
/// wrapped key this build makes is exactly this long; longer input is
/// refused before any cryptography.
pub const MAX_WRAPPED_KEY_BYTES: usize = 32 + ENVELOPE_OVERHEAD;

/// The AES-256-GCM key of one content. Wiped from memory on drop and never
/// printed.
///
/// One key must encrypt one content only: nonces are derived from the block
/// index alone, so two different contents under one key would reuse nonces,
/// which breaks GCM. [`ContentKey::generate`] is the way to get a key;
/// [`ContentKey::from_bytes`] is for keys that come back from storage or an
/// unwrapped grant.
#[derive(Clone)]
pub struct ContentKey([u8; 32]);

impl ContentKey {
    /// A fresh key from the operating system's randomness. Panics only if
    /// the operating system cannot supply randomness (as `umbra_crypto::seal`
    /// does).
    pub fn generate() -> Self {
        let mut key = ContentKey([0u8; 32]);
        OsRng.fill_bytes(&mut key.0);
        key
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentKey(bytes)
    }

    /// The raw key. The caller owns the copy and should wipe it when done.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for ContentKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

/// HPKE-wraps `key` to a reader's X25519 public key. The content id is the
/// associated data, so a wrapped key cannot be replayed as the key of
/// another content. The result is [`MAX_WRAPPED_KEY_BYTES`] long.
pub fn wrap_key(
    key: &ContentKey,
    reader: &[u8; 32],
    content_id: &Hash,
) -> Result<Vec<u8>, PdfsError> {
    umbra_crypto::seal(
        reader,
        CONTENT_KEY_INFO,
        content_id.as_bytes(),
        key.as_bytes(),
    )
    .map_err(PdfsError::KeyWrap)
}

/// Opens a key made by [`wrap_key`] for `keypair`'s public key and
/// `content_id`. A wrong keypair, a wrong content id or a changed byte is
/// [`PdfsError::Decrypt`].
pub fn unwrap_key(
    keypair: &EncryptionKeypair,
    content_id: &Hash,
    wrapped: &[u8],
) -> Result<ContentKey, PdfsError> {
    if wrapped.len() > MAX_WRAPPED_KEY_BYTES {
        return Err(PdfsError::TooLarge {
            what: "wrapped key",
            len: wrapped.len() as u64,
            max: MAX_WRAPPED_KEY_BYTES as u64,
        });
    }
    let mut plain = umbra_crypto::open(keypair, CONTENT_KEY_INFO, content_id.as_bytes(), wrapped)
        .map_err(|e| match e {
        EncryptionError::DecryptFailed => PdfsError::Decrypt,
        other => PdfsError::KeyWrap(other),
    })?;
    let key = <[u8; 32]>::try_from(plain.as_slice())
        .map(ContentKey)
        .map_err(|_| PdfsError::WrappedKeyLength(plain.len()));
    plain.as_mut_slice().zeroize();
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::sha256;

    fn reader(seed: u8) -> EncryptionKeypair {
        EncryptionKeypair::derive(&[seed; 32])
    }

    #[test]
    fn generate_gives_distinct_keys() {
        assert_ne!(
            ContentKey::generate().to_bytes(),
            ContentKey::generate().to_bytes()
        );
        let k = ContentKey::from_bytes([9; 32]);
        assert_eq!(k.to_bytes(), [9; 32]);
    }

    #[test]
    fn debug_never_prints_the_key() {
        let k = ContentKey::from_bytes([0xab; 32]);
        let shown = format!("{k:?}");
        assert_eq!(shown, "ContentKey(..)");
        assert!(!shown.contains("ab"));
    }

    #[test]
    fn a_wrapped_key_fits_a_grant() {
        const { assert!(MAX_WRAPPED_KEY_BYTES <= umbra_types::storage::MAX_WRAPPED_KEY_BYTES) };
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let bob = reader(1);
        let key = ContentKey::generate();
        let cid = sha256(b"content");
        let wrapped = wrap_key(&key, &bob.public(), &cid).unwrap();
        assert_eq!(wrapped.len(), MAX_WRAPPED_KEY_BYTES);
        assert_eq!(
            unwrap_key(&bob, &cid, &wrapped).unwrap().to_bytes(),
            key.to_bytes()
        );
    }

    #[test]
    fn wrong_reader_or_content_fails() {
        let bob = reader(1);
        let key = ContentKey::generate();
        let cid = sha256(b"content");
        let wrapped = wrap_key(&key, &bob.public(), &cid).unwrap();
        assert!(matches!(
            unwrap_key(&reader(2), &cid, &wrapped),
            Err(PdfsError::Decrypt)
        ));
        assert!(matches!(
            unwrap_key(&bob, &sha256(b"other content"), &wrapped),
            Err(PdfsError::Decrypt)
        ));
        let mut bad = wrapped.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        assert!(matches!(
            unwrap_key(&bob, &cid, &bad),
            Err(PdfsError::Decrypt)
        ));
    }

    #[test]
    fn other_envelopes_do_not_open_as_keys() {
        let bob = reader(1);
        let cid = sha256(b"content");
        // A box message to bob with the content id as aad: wrong info.
        let env = umbra_crypto::seal(
            &bob.public(),
            umbra_crypto::BOX_MESSAGE_INFO,
            cid.as_bytes(),
            &[5; 32],
        )
        .unwrap();
        assert!(matches!(
            unwrap_key(&bob, &cid, &env),
            Err(PdfsError::Decrypt)
        ));
        // The right info but a payload that is not 32 bytes.
        let env =
            umbra_crypto::seal(&bob.public(), CONTENT_KEY_INFO, cid.as_bytes(), &[5; 31]).unwrap();
        assert!(matches!(
            unwrap_key(&bob, &cid, &env),
            Err(PdfsError::WrappedKeyLength(31))
        ));
        // Oversize and short input.
        let long = vec![1u8; MAX_WRAPPED_KEY_BYTES + 1];
        assert!(matches!(
            unwrap_key(&bob, &cid, &long),
            Err(PdfsError::TooLarge { .. })
        ));
        assert!(matches!(
            unwrap_key(&bob, &cid, &[1u8; 3]),
            Err(PdfsError::KeyWrap(_))
        ));
        assert!(matches!(
            wrap_key(&ContentKey::generate(), &[0u8; 32], &cid),
            Err(PdfsError::KeyWrap(EncryptionError::InvalidPublicKey))
        ));
    }
}
