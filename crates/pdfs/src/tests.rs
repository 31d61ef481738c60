//! End-to-end tests across modules: encode a stream, check and open its
//! blocks, and the attacks the block format must stop.

use crate::encode::encode_with_limit;
use crate::*;
use proptest::prelude::*;
use std::collections::HashSet;
use std::io::{self, Read};
use umbra_crypto::EncryptionKeypair;
use umbra_types::{Hash, merkle_root, sha256};

const B: usize = BLOCK_SIZE;

/// Bytes with no repeated 32-byte aligned chunk: SHA-256 of a counter.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(&sha256(&[seed.to_le_bytes(), i.to_le_bytes()].concat()).0);
        i += 1;
    }
    out.truncate(len);
    out
}

fn encode(input: &[u8], key: Option<&ContentKey>) -> (Manifest, Vec<Vec<u8>>) {
    let mut stored = Vec::new();
    let m = encode_stream(input, key, |i, id, bytes| {
        assert_eq!(i, stored.len() as u64, "blocks arrive in index order");
        assert_eq!(id, block_id(bytes));
        stored.push(bytes.to_vec());
        Ok(())
    })
    .unwrap();
    (m, stored)
}

fn decode_all(m: &Manifest, key: Option<&ContentKey>, stored: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, s) in stored.iter().enumerate() {
        out.extend(decode_block(m, key, i as u64, s).unwrap());
    }
    out
}

fn check_round_trip(input: &[u8], key: Option<&ContentKey>) {
    let (m, stored) = encode(input, key);
    assert_eq!(m.version, MANIFEST_VERSION);
    assert_eq!(m.size, input.len() as u64);
    assert_eq!(m.block_count(), blocks_for(m.size));
    assert_eq!(stored.len() as u64, m.block_count());
    assert_eq!(
        m.scheme,
        if key.is_some() {
            Scheme::Aes256Gcm
        } else {
            Scheme::Public
        }
    );
    assert_eq!(m.content_id(), merkle_root(&m.block_ids));
    assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    for (i, s) in stored.iter().enumerate() {
        assert_eq!(Some(s.len() as u64), m.stored_len(i as u64));
        assert_eq!(m.block_ids[i], block_id(s));
        assert!(
            m.proof(i as u64)
                .unwrap()
                .verify(&m.block_ids[i], &m.content_id())
        );
    }
    if key.is_none() {
        // Public: the stored bytes are the plaintext blocks.
        let chunks: Vec<&[u8]> = if input.is_empty() {
            vec![&[][..]]
        } else {
            input.chunks(B).collect()
        };
        assert_eq!(stored.iter().map(|s| &s[..]).collect::<Vec<_>>(), chunks);
    }
    assert_eq!(decode_all(&m, key, &stored), input);
}

#[test]
fn round_trips_at_the_edges() {
    let key = ContentKey::generate();
    for len in [0, 1, B - 1, B, B + 1, 3 * B + 1] {
        let input = data(len, len as u64);
        check_round_trip(&input, None);
        check_round_trip(&input, Some(&key));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn round_trips_random_sizes(len in 0usize..(4 * B + 100), seed in any::<u64>(), encrypted in any::<bool>()) {
        let key = ContentKey::generate();
        check_round_trip(&data(len, seed), encrypted.then_some(&key));
    }
}

#[test]
fn empty_content_has_one_key_unique_block() {
    let (p, stored) = encode(b"", None);
    assert_eq!(stored, vec![Vec::<u8>::new()]);
    assert_eq!(p.block_ids, vec![sha256(b"")]);
    assert_ne!(p.content_id(), Hash::ZERO);
    let (a, sa) = encode(b"", Some(&ContentKey::generate()));
    let (b, _) = encode(b"", Some(&ContentKey::generate()));
    assert_eq!(sa[0].len(), TAG_BYTES);
    assert_ne!(a.content_id(), b.content_id());
    assert_ne!(a.content_id(), p.content_id());
}

#[test]
fn keys_change_ids_and_encoding_is_deterministic() {
    let input = data(2 * B + 3, 1);
    let k1 = ContentKey::from_bytes([1; 32]);
    let k2 = ContentKey::from_bytes([2; 32]);
    let (a, _) = encode(&input, Some(&k1));
    let (b, _) = encode(&input, Some(&k2));
    assert_ne!(a.content_id(), b.content_id());
    for (x, y) in a.block_ids.iter().zip(&b.block_ids) {
        assert_ne!(x, y);
    }
    assert_eq!(encode(&input, Some(&k1)).0, a);
    // The public id is the same for everyone.
    assert_eq!(encode(&input, None).0, encode(&input, None).0);
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let input = data(9 * B + 17, 2);
    let key = ContentKey::from_bytes([3; 32]);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| encode(&input, Some(&key)))
    };
    let one = run(1);
    assert_eq!(run(3), one);
    assert_eq!(encode(&input, Some(&key)), one);
}

/// The one-pass encoder (sequential, blocks by value) gives exactly what
/// the windowed one does, for every size edge, encrypted and public.
#[test]
fn the_one_pass_encoder_equals_the_windowed_one() {
    let key = ContentKey::from_bytes([4; 32]);
    for len in [0, 1, B, B + 1, 3 * B - 1, 5 * B + 7] {
        let input = data(len, len as u64);
        for k in [Some(&key), None] {
            let mut owned = Vec::new();
            let mut indexes = Vec::new();
            let m = encode_owned(&input[..], k, |i, id, bytes| {
                assert_eq!(block_id(&bytes), id);
                indexes.push(i);
                owned.push(bytes);
                Ok(())
            })
            .unwrap();
            assert_eq!((m.clone(), owned), encode(&input, k), "{len} bytes");
            assert_eq!(indexes, (0..m.block_count()).collect::<Vec<_>>());
        }
    }
}

#[test]
fn identical_plaintext_blocks_differ_when_stored() {
    let input = vec![0u8; 3 * B];
    let key = ContentKey::generate();
    let (m, stored) = encode(&input, Some(&key));
    // The ciphertexts differ, not only the tags (which the index in the
    // aad alone would change): each index has its own nonce.
    assert_ne!(stored[0][..B], stored[1][..B]);
    assert_ne!(stored[1][..B], stored[2][..B]);
    let ids: HashSet<_> = m.block_ids.iter().collect();
    assert_eq!(ids.len(), 3);
    // Public: identical blocks are one block (deduplicated by id).
    let (p, _) = encode(&input, None);
    assert_eq!(p.block_ids[0], p.block_ids[1]);
}

#[test]
fn tampering_is_detected() {
    let key = ContentKey::generate();
    let (m, stored) = encode(&data(2 * B + 10, 3), Some(&key));
    for (i, pos) in [(0usize, 0usize), (0, B / 2), (1, B + TAG_BYTES - 1), (2, 3)] {
        let mut bad = stored[i].clone();
        bad[pos] ^= 0x01;
        // The id check catches it...
        assert!(matches!(
            decode_block(&m, Some(&key), i as u64, &bad),
            Err(PdfsError::HashMismatch { .. })
        ));
        // ...and so does the AEAD, for someone who also forged the manifest.
        let mut forged = m.clone();
        forged.block_ids[i] = block_id(&bad);
        assert!(matches!(
            decode_block(&forged, Some(&key), i as u64, &bad),
            Err(PdfsError::Decrypt)
        ));
    }
    // Public blocks are protected by the id alone.
    let (p, ps) = encode(&data(100, 4), None);
    let mut bad = ps[0].clone();
    bad[7] ^= 0x40;
    assert!(matches!(
        decode_block(&p, None, 0, &bad),
        Err(PdfsError::HashMismatch { .. })
    ));
}

#[test]
fn reordering_is_detected() {
    let key = ContentKey::generate();
    let (m, stored) = encode(&data(3 * B, 5), Some(&key));
    assert!(matches!(
        decode_block(&m, Some(&key), 0, &stored[1]),
        Err(PdfsError::HashMismatch { .. })
    ));
    // A manifest with the ids swapped to match: the AEAD binds the index.
    let mut swapped = m.clone();
    swapped.block_ids.swap(0, 1);
    assert!(matches!(
        decode_block(&swapped, Some(&key), 0, &stored[1]),
        Err(PdfsError::Decrypt)
    ));
    assert!(matches!(
        decode_block(&swapped, Some(&key), 1, &stored[0]),
        Err(PdfsError::Decrypt)
    ));
    assert!(matches!(
        open_block(&key, 0, false, &stored[1]),
        Err(PdfsError::Decrypt)
    ));
}

#[test]
fn truncation_and_false_last_are_detected() {
    let key = ContentKey::generate();
    let (m, stored) = encode(&data(3 * B, 6), Some(&key));
    // Marking a non-last block last.
    assert!(matches!(
        open_block(&key, 1, true, &stored[1]),
        Err(PdfsError::Decrypt)
    ));
    // Marking the last block not last.
    assert!(matches!(
        open_block(&key, 2, false, &stored[2]),
        Err(PdfsError::Decrypt)
    ));
    // A manifest that drops the last block: its new last block fails.
    let truncated =
        Manifest::new(2 * B as u64, Scheme::Aes256Gcm, m.block_ids[..2].to_vec()).unwrap();
    assert!(decode_block(&truncated, Some(&key), 0, &stored[0]).is_ok());
    assert!(matches!(
        decode_block(&truncated, Some(&key), 1, &stored[1]),
        Err(PdfsError::Decrypt)
    ));
}

#[test]
fn decode_block_errors() {
    let key = ContentKey::generate();
    let (m, stored) = encode(&data(B + 5, 7), Some(&key));
    assert!(matches!(
        decode_block(&m, None, 0, &stored[0]),
        Err(PdfsError::MissingKey)
    ));
    assert!(matches!(
        decode_block(&m, Some(&ContentKey::generate()), 0, &stored[0]),
        Err(PdfsError::Decrypt)
    ));
    assert!(matches!(
        decode_block(&m, Some(&key), 2, &stored[0]),
        Err(PdfsError::NoSuchBlock { index: 2, count: 2 })
    ));
    assert!(matches!(
        decode_block(&m, Some(&key), u64::MAX, &stored[0]),
        Err(PdfsError::NoSuchBlock { .. })
    ));
    assert!(matches!(
        decode_block(&m, Some(&key), 1, &stored[1][..20]),
        Err(PdfsError::BlockLength {
            index: 1,
            expected: 21,
            got: 20
        })
    ));
    // A manifest lying about its scheme or size fails on the block length.
    let mut public = m.clone();
    public.scheme = Scheme::Public;
    assert!(matches!(
        decode_block(&public, None, 1, &stored[1]),
        Err(PdfsError::BlockLength { .. })
    ));
    // The key is ignored for public content.
    let (p, ps) = encode(b"hello", None);
    assert_eq!(decode_block(&p, Some(&key), 0, &ps[0]).unwrap(), b"hello");
}

#[test]
fn ciphertext_never_contains_plaintext() {
    let input = data(3 * B + 1, 8);
    let (_, stored) = encode(&input, Some(&ContentKey::generate()));
    // Every 64-byte window of the plaintext wholly contains one 32-byte
    // aligned chunk, so finding no aligned chunk in any 32-byte window of
    // the stored bytes rules out every 64-byte window (and more).
    let chunks: HashSet<&[u8]> = input.chunks_exact(32).collect();
    assert_eq!(chunks.len(), input.len() / 32, "plaintext must not repeat");
    let all: Vec<u8> = stored.concat();
    assert_eq!(all.len(), input.len() + 4 * TAG_BYTES);
    for w in all.windows(32) {
        assert!(
            !chunks.contains(w),
            "a plaintext chunk appears in the stored bytes"
        );
    }
}

/// Returns at most 1000 bytes per read and is interrupted now and then,
/// like a pipe.
struct Trickle<'a> {
    data: &'a [u8],
    calls: u32,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(7) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "signal"));
        }
        let n = buf
            .len()
            .min(self.data.len())
            .min(1 + (self.calls as usize * 131) % 1000);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn short_reads_give_the_same_manifest() {
    let input = data(2 * B + 999, 9);
    let key = ContentKey::from_bytes([4; 32]);
    let (expected, _) = encode(&input, Some(&key));
    let got = encode_stream(
        Trickle {
            data: &input,
            calls: 0,
        },
        Some(&key),
        |_, _, _| Ok(()),
    )
    .unwrap();
    assert_eq!(got, expected);
}

#[test]
fn errors_stop_the_encoding() {
    let input = data(5 * B, 10);
    let mut seen = 0;
    let r = encode_stream(&input[..], None, |i, _, _| {
        seen += 1;
        if i == 2 {
            Err(PdfsError::MissingKey)
        } else {
            Ok(())
        }
    });
    assert!(matches!(r, Err(PdfsError::MissingKey)));
    assert_eq!(seen, 3);

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    assert!(matches!(
        encode_stream(Failing, None, |_, _, _| Ok(())),
        Err(PdfsError::Read(_))
    ));
}

#[test]
fn content_over_the_block_limit_is_refused() {
    let input = vec![1u8; 3 * B];
    assert!(encode_with_limit(&input[..], None, |_, _, _| Ok(()), 3).is_ok());
    let input = vec![1u8; 3 * B + 1];
    assert!(matches!(
        encode_with_limit(&input[..], None, |_, _, _| Ok(()), 3),
        Err(PdfsError::TooLarge {
            what: "content",
            ..
        })
    ));
}

#[test]
fn a_reader_gets_the_key_and_the_content() {
    let bob = EncryptionKeypair::derive(&[11; 32]);
    let input = data(B + 77, 12);
    let key = ContentKey::generate();
    let (m, stored) = encode(&input, Some(&key));
    let grant = wrap_key(&key, &bob.public(), &m.content_id()).unwrap();
    let bobs_key = unwrap_key(&bob, &m.content_id(), &grant).unwrap();
    assert_eq!(decode_all(&m, Some(&bobs_key), &stored), input);
}

/// The upload's second pass must produce exactly the blocks the manifest
/// was computed from, or every node would refuse them.
#[test]
fn seal_stream_matches_encode_stream() {
    let key = ContentKey::generate();
    for len in [0, 1, B, 3 * B + 7] {
        let input = data(len, 41);
        for k in [Some(&key), None] {
            let (m, stored) = encode(&input, k);
            let mut again = Vec::new();
            let size = seal_stream(input.as_slice(), k, |i, bytes| {
                assert_eq!(i, again.len() as u64);
                again.push(bytes);
                Ok(())
            })
            .unwrap();
            assert_eq!(size, m.size);
            assert_eq!(again, stored, "len {len}");
        }
    }
}
