//! Public-key encryption to X25519 keys with HPKE (RFC 9180).
//!
//! One suite only, in base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305. A sealed message is a self-describing envelope:
//!
//! ```text
//! version (1 byte, = 1) || encapsulated key (32 bytes) || ciphertext || tag (16 bytes)
//! ```
//!
//! The version byte names the whole suite, so a later suite is a new version
//! and old envelopes stay readable. `info` binds the envelope to its purpose
//! (for box messages, [`BOX_MESSAGE_INFO`]) and `aad` to its context; opening
//! with a different `info` or `aad` fails exactly like a wrong key does.
//!
//! Base mode does not authenticate the sender: anyone who knows the
//! recipient's public key can seal to it. Callers that need to know who
//! wrote a message sign it as well.

use hkdf::Hkdf;
use hpke::{
    Deserializable, Kem as _, OpModeR, OpModeS, Serializable, aead::ChaCha20Poly1305,
    kdf::HkdfSha256, kem::X25519HkdfSha256,
};
use sha2::Sha256;
use zeroize::Zeroize;

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = ChaCha20Poly1305;
type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
type PublicKey = <Kem as hpke::Kem>::PublicKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// The `info` string applications use for box message payloads.
pub const BOX_MESSAGE_INFO: &[u8] = b"umbra/box-message/v1";

/// The HKDF-SHA256 `info` that turns an account seed into its X25519 secret.
/// Part of the key format: changing it changes every account's encryption key.
pub const ENCRYPTION_KEY_LABEL: &[u8] = b"umbra/encryption-key/x25519/v1";

/// The envelope version this module writes and the only one it reads.
pub const ENVELOPE_VERSION: u8 = 1;

/// Length of the encapsulated (ephemeral X25519 public) key in an envelope.
pub const ENCAPSULATED_KEY_BYTES: usize = 32;

/// Length of the ChaCha20-Poly1305 authentication tag.
pub const TAG_BYTES: usize = 16;

/// Bytes an envelope adds to its plaintext: version, encapsulated key, tag.
pub const ENVELOPE_OVERHEAD: usize = 1 + ENCAPSULATED_KEY_BYTES + TAG_BYTES;

/// The largest envelope [`open`] accepts (1 MiB); longer input is refused
/// before any work is done.
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;

/// The largest plaintext [`seal`] accepts, so that every sealed envelope opens.
pub const MAX_PLAINTEXT_BYTES: usize = MAX_ENVELOPE_BYTES - ENVELOPE_OVERHEAD;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("envelope is {len} bytes, shorter than the {min}-byte minimum")]
    TooShort { len: usize, min: usize },
    #[error("{len} bytes is over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("unknown envelope version {0} (this build reads version {ENVELOPE_VERSION})")]
    UnknownVersion(u8),
    #[error("invalid recipient public key: not usable for X25519 key agreement")]
    InvalidPublicKey,
    #[error("cannot decrypt: wrong key or tampered data")]
    DecryptFailed,
    #[error("cannot encrypt")]
    EncryptFailed,
}

/// An X25519 key for receiving HPKE envelopes, derived from an account's
/// ed25519 seed so that one backed-up secret recovers both keys.
///
/// The secret is `clamp(HKDF-SHA256(salt = none, ikm = seed, info =
/// ENCRYPTION_KEY_LABEL, 32 bytes))`: the signing key itself is never used as
/// a cipher key, and knowing the encryption secret reveals nothing about the
/// signing key. The secret is wiped from memory when the keypair is dropped.
#[derive(Clone)]
pub struct EncryptionKeypair {
    secret: PrivateKey,
    public: [u8; 32],
}

impl EncryptionKeypair {
    /// The encryption key that belongs to the ed25519 seed `seed`.
    pub fn derive(seed: &[u8; 32]) -> Self {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(None, seed)
            .expand(ENCRYPTION_KEY_LABEL, &mut okm)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let keypair = Self::from_secret_bytes(&okm);
        okm.zeroize();
        keypair
    }

    /// The key whose raw X25519 secret is `secret` (clamped on use).
    fn from_secret_bytes(secret: &[u8; 32]) -> Self {
        let secret = PrivateKey::from_bytes(secret).expect("any 32 bytes are an X25519 secret key");
        let mut public = [0u8; 32];
        public.copy_from_slice(&Kem::sk_to_pk(&secret).to_bytes());
        EncryptionKeypair { secret, public }
    }

    /// The X25519 public key others seal to.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }
}

impl std::fmt::Debug for EncryptionKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str("EncryptionKeypair(public: ")?;
        for b in self.public {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Encrypts `plaintext` to the X25519 public key `recipient`, bound to
/// `info` and `aad`, with a fresh ephemeral key from the operating system's
/// randomness. Returns the envelope (see the module docs); its length is
/// `plaintext.len() + ENVELOPE_OVERHEAD`.
///
/// Fails with `TooLarge` for plaintexts over [`MAX_PLAINTEXT_BYTES`] and with
/// `InvalidPublicKey` for low-order points. Panics only if the operating
/// system cannot supply randomness.
pub fn seal(
    recipient: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptionError> {
    check_plaintext_len(plaintext)?;
    let recipient = recipient_key(recipient)?;
    let sealed =
        hpke::single_shot_seal::<Aead, Kdf, Kem>(&OpModeS::Base, &recipient, info, plaintext, aad);
    envelope(sealed)
}

/// `seal` with the ephemeral key drawn from `rng`. Test-only: with a
/// repeating rng, two messages to one recipient would share key and nonce.
#[cfg(test)]
fn seal_with_rng(
    recipient: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl hpke::rand_core::CryptoRng,
) -> Result<Vec<u8>, EncryptionError> {
    check_plaintext_len(plaintext)?;
    let recipient = recipient_key(recipient)?;
    let sealed = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &recipient,
        info,
        plaintext,
        aad,
        rng,
    );
    envelope(sealed)
}

/// Decrypts an envelope made by [`seal`] for `keypair`'s public key with
/// the same `info` and `aad`.
///
/// Size and version are checked before any cryptography: over
/// [`MAX_ENVELOPE_BYTES`] is `TooLarge`, a version other than
/// [`ENVELOPE_VERSION`] is `UnknownVersion`, shorter than
/// [`ENVELOPE_OVERHEAD`] is `TooShort`. Any other failure (wrong key, wrong
/// `info` or `aad`, a changed byte) is `DecryptFailed`, with no hint of which.
pub fn open(
    keypair: &EncryptionKeypair,
    info: &[u8],
    aad: &[u8],
    envelope: &[u8],
) -> Result<Vec<u8>, EncryptionError> {
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(EncryptionError::TooLarge {
            len: envelope.len(),
            max: MAX_ENVELOPE_BYTES,
        });
    }
    let too_short = EncryptionError::TooShort {
        len: envelope.len(),
        min: ENVELOPE_OVERHEAD,
    };
    // The version comes first so that a later version's envelope, whatever
    // its length, is reported as a version this build does not read.
    let (&version, rest) = envelope.split_first().ok_or(too_short.clone())?;
    if version != ENVELOPE_VERSION {
        return Err(EncryptionError::UnknownVersion(version));
    }
    if envelope.len() < ENVELOPE_OVERHEAD {
        return Err(too_short);
    }
    let (encapped, ciphertext) = rest.split_at(ENCAPSULATED_KEY_BYTES);
    let encapped = EncappedKey::from_bytes(encapped).map_err(|_| EncryptionError::DecryptFailed)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(
        &OpModeR::Base,
        &keypair.secret,
        &encapped,
        info,
        ciphertext,
        aad,
    )
    .map_err(|_| EncryptionError::DecryptFailed)
}

fn check_plaintext_len(plaintext: &[u8]) -> Result<(), EncryptionError> {
    if plaintext.len() > MAX_PLAINTEXT_BYTES {
        return Err(EncryptionError::TooLarge {
            len: plaintext.len(),
            max: MAX_PLAINTEXT_BYTES,
        });
    }
    Ok(())
}

fn recipient_key(recipient: &[u8; 32]) -> Result<PublicKey, EncryptionError> {
    PublicKey::from_bytes(recipient).map_err(|_| EncryptionError::InvalidPublicKey)
}

fn envelope(
    sealed: Result<(EncappedKey, Vec<u8>), hpke::HpkeError>,
) -> Result<Vec<u8>, EncryptionError> {
    let (encapped, ciphertext) = sealed.map_err(|e| match e {
        // The shared secret came out all zero: the recipient key is a
        // low-order point.
        hpke::HpkeError::EncapError => EncryptionError::InvalidPublicKey,
        _ => EncryptionError::EncryptFailed,
    })?;
    let mut out = Vec::with_capacity(1 + ENCAPSULATED_KEY_BYTES + ciphertext.len());
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&encapped.to_bytes());
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Keypair, dev_keypair};
    use proptest::prelude::*;
    use std::convert::Infallible;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn hex32(s: &str) -> [u8; 32] {
        hex(s).try_into().unwrap()
    }

    fn bob() -> EncryptionKeypair {
        dev_keypair("bob").encryption_keypair()
    }

    /// Yields the given bytes, then zeros: makes HPKE's ephemeral key a
    /// chosen one.
    struct FixedRng(Vec<u8>);

    impl hpke::rand_core::TryRng for FixedRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            let mut b = [0u8; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            let mut b = [0u8; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for d in dst {
                *d = if self.0.is_empty() {
                    0
                } else {
                    self.0.remove(0)
                };
            }
            Ok(())
        }
    }
    impl hpke::rand_core::TryCryptoRng for FixedRng {}

    #[test]
    fn round_trip() {
        let bob = bob();
        let env = seal(&bob.public(), BOX_MESSAGE_INFO, b"ctx", b"hello bob").unwrap();
        assert_eq!(env.len(), b"hello bob".len() + ENVELOPE_OVERHEAD);
        assert_eq!(env[0], ENVELOPE_VERSION);
        assert_eq!(
            open(&bob, BOX_MESSAGE_INFO, b"ctx", &env).unwrap(),
            b"hello bob"
        );
        // Empty plaintext, empty info and aad.
        let env = seal(&bob.public(), b"", b"", b"").unwrap();
        assert_eq!(env.len(), ENVELOPE_OVERHEAD);
        assert_eq!(open(&bob, b"", b"", &env).unwrap(), b"");
    }

    #[test]
    fn every_seal_uses_a_fresh_ephemeral_key() {
        let bob = bob();
        let a = seal(&bob.public(), BOX_MESSAGE_INFO, b"", b"same").unwrap();
        let b = seal(&bob.public(), BOX_MESSAGE_INFO, b"", b"same").unwrap();
        assert_ne!(a[1..33], b[1..33]);
        assert_ne!(a[33..], b[33..]);
    }

    #[test]
    fn wrong_recipient_fails() {
        let env = seal(&bob().public(), BOX_MESSAGE_INFO, b"", b"for bob").unwrap();
        let carol = dev_keypair("carol").encryption_keypair();
        assert_eq!(
            open(&carol, BOX_MESSAGE_INFO, b"", &env),
            Err(EncryptionError::DecryptFailed)
        );
    }

    #[test]
    fn wrong_info_or_aad_fails() {
        let bob = bob();
        let env = seal(&bob.public(), BOX_MESSAGE_INFO, b"aad", b"msg").unwrap();
        assert_eq!(
            open(&bob, b"umbra/other/v1", b"aad", &env),
            Err(EncryptionError::DecryptFailed)
        );
        assert_eq!(
            open(&bob, BOX_MESSAGE_INFO, b"aae", &env),
            Err(EncryptionError::DecryptFailed)
        );
        assert_eq!(
            open(&bob, BOX_MESSAGE_INFO, b"", &env),
            Err(EncryptionError::DecryptFailed)
        );
        assert!(open(&bob, BOX_MESSAGE_INFO, b"aad", &env).is_ok());
    }

    #[test]
    fn size_and_version_errors() {
        let bob = bob();
        assert_eq!(
            open(&bob, b"", b"", &[]),
            Err(EncryptionError::TooShort { len: 0, min: 49 })
        );
        assert_eq!(
            open(&bob, b"", b"", &[1; 48]),
            Err(EncryptionError::TooShort { len: 48, min: 49 })
        );
        assert_eq!(
            open(&bob, b"", b"", &[1; 49]),
            Err(EncryptionError::DecryptFailed)
        );
        assert_eq!(
            open(&bob, b"", b"", &vec![1; MAX_ENVELOPE_BYTES + 1]),
            Err(EncryptionError::TooLarge {
                len: MAX_ENVELOPE_BYTES + 1,
                max: MAX_ENVELOPE_BYTES
            })
        );
        for v in [0u8, 2, 255] {
            let mut env = seal(&bob.public(), b"", b"", b"x").unwrap();
            env[0] = v;
            assert_eq!(
                open(&bob, b"", b"", &env),
                Err(EncryptionError::UnknownVersion(v))
            );
            // A short envelope of an unknown version is reported by version.
            assert_eq!(
                open(&bob, b"", b"", &[v]),
                Err(EncryptionError::UnknownVersion(v))
            );
        }
        // The largest plaintext seals into the largest envelope, which opens.
        let big = vec![7u8; MAX_PLAINTEXT_BYTES];
        let env = seal(&bob.public(), b"", b"", &big).unwrap();
        assert_eq!(env.len(), MAX_ENVELOPE_BYTES);
        assert_eq!(open(&bob, b"", b"", &env).unwrap(), big);
        assert_eq!(
            seal(&bob.public(), b"", b"", &vec![0u8; MAX_PLAINTEXT_BYTES + 1]),
            Err(EncryptionError::TooLarge {
                len: MAX_PLAINTEXT_BYTES + 1,
                max: MAX_PLAINTEXT_BYTES
            })
        );
    }

    #[test]
    fn low_order_keys_are_refused() {
        // u = 0 and u = 1 are low-order points: the X25519 result is all zero.
        let mut one = [0u8; 32];
        one[0] = 1;
        for bad in [[0u8; 32], one] {
            assert_eq!(
                seal(&bad, b"", b"", b"x"),
                Err(EncryptionError::InvalidPublicKey)
            );
            // As the encapsulated key of an envelope, it is tampered data.
            let mut env = seal(&bob().public(), b"", b"", b"x").unwrap();
            env[1..33].copy_from_slice(&bad);
            assert_eq!(
                open(&bob(), b"", b"", &env),
                Err(EncryptionError::DecryptFailed)
            );
        }
    }

    /// RFC 9180 Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
    /// ChaCha20-Poly1305, base mode, sequence number 0. Sealing with the
    /// RFC's ephemeral key material must give the RFC's bytes exactly, and
    /// the RFC's ciphertext must open.
    #[test]
    fn rfc9180_a2_1_known_answer() {
        let info = hex("4f6465206f6e2061204772656369616e2055726e");
        let ikm_e = hex("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b");
        let pk_em = hex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
        let sk_rm = hex32("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
        let pk_rm = hex32("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
        let pt = hex("4265617574792069732074727574682c20747275746820626561757479");
        let aad = hex("436f756e742d30");
        let ct = hex(
            "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
        );

        let recipient = EncryptionKeypair::from_secret_bytes(&sk_rm);
        assert_eq!(recipient.public(), pk_rm);

        let mut expected = vec![ENVELOPE_VERSION];
        expected.extend_from_slice(&pk_em);
        expected.extend_from_slice(&ct);

        let sealed = seal_with_rng(&pk_rm, &info, &aad, &pt, &mut FixedRng(ikm_e)).unwrap();
        assert_eq!(sealed, expected);
        assert_eq!(open(&recipient, &info, &aad, &expected).unwrap(), pt);
    }

    #[test]
    fn derive_is_deterministic_and_domain_separated() {
        let seed = [7u8; 32];
        let a = EncryptionKeypair::derive(&seed);
        assert_eq!(a.public(), EncryptionKeypair::derive(&seed).public());
        // Pinned: computed independently as X25519(clamp(HKDF-SHA256(salt =
        // none, ikm = seed, info = label, 32)), 9). Changing this changes
        // every account's encryption key.
        assert_eq!(
            a.public(),
            hex32("ceecbd30c1118594ca21cf26630f6b9dc8d52af6af243c6ab6171b86f5918333")
        );
        let mut other = seed;
        other[31] ^= 1;
        assert_ne!(a.public(), EncryptionKeypair::derive(&other).public());

        let k = Keypair::from_seed(seed);
        assert_eq!(k.encryption_keypair().public(), a.public());
        assert_ne!(a.public(), k.public().0);
        // Not the X25519 key of the seed used directly either.
        assert_ne!(
            a.public(),
            EncryptionKeypair::from_secret_bytes(&seed).public()
        );
        assert_ne!(
            bob().public(),
            dev_keypair("carol").encryption_keypair().public()
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let k = EncryptionKeypair::derive(&[7u8; 32]);
        let shown = format!("{k:?}");
        let secret: String = k
            .secret
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!shown.contains(&secret));
        assert!(!shown.contains(&secret[..16]));
        assert_eq!(
            shown,
            "EncryptionKeypair(public: ceecbd30c1118594ca21cf26630f6b9dc8d52af6af243c6ab6171b86f5918333)"
        );
    }

    proptest! {
        #[test]
        fn round_trip_random(
            plaintext in proptest::collection::vec(any::<u8>(), 0..4096),
            info in proptest::collection::vec(any::<u8>(), 0..64),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            seed in any::<[u8; 32]>(),
        ) {
            let k = EncryptionKeypair::derive(&seed);
            let env = seal(&k.public(), &info, &aad, &plaintext).unwrap();
            prop_assert_eq!(env.len(), 1 + 32 + plaintext.len() + 16);
            prop_assert_eq!(open(&k, &info, &aad, &env).unwrap(), plaintext);
        }

        // Changing any bit of any byte makes the envelope fail to open.
        #[test]
        fn tampering_is_detected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..256),
            pos in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let bob = bob();
            let mut env = seal(&bob.public(), BOX_MESSAGE_INFO, b"aad", &plaintext).unwrap();
            let i = pos.index(env.len());
            env[i] ^= mask;
            let expected = if i == 0 {
                EncryptionError::UnknownVersion(ENVELOPE_VERSION ^ mask)
            } else {
                EncryptionError::DecryptFailed
            };
            prop_assert_eq!(open(&bob, BOX_MESSAGE_INFO, b"aad", &env), Err(expected));
        }

        // Arbitrary input never panics and never opens.
        #[test]
        fn random_bytes_never_open(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            as_v1 in any::<bool>(),
        ) {
            let mut bytes = bytes;
            if as_v1 && !bytes.is_empty() {
                bytes[0] = ENVELOPE_VERSION;
            }
            prop_assert!(open(&bob(), BOX_MESSAGE_INFO, b"", &bytes).is_err());
        }
    }
}
