//! PDFS decoders on untrusted bytes (what a peer or an HTTP client sends):
//! a manifest that decodes re-encodes to the same bytes and answers every
//! question about itself without panicking; a stored block is accepted only
//! if it is byte for byte the block the manifest names; a stage ticket that
//! decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use umbra_pdfs::{ContentKey, Manifest, StageTicket, block_span, decode_block, encode_stream};

/// Three blocks and a bit of known content under a fixed key, and its blocks.
fn known() -> &'static (Manifest, ContentKey, Vec<Vec<u8>>) {
    static KNOWN: OnceLock<(Manifest, ContentKey, Vec<Vec<u8>>)> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let data: Vec<u8> = (0..3 * umbra_pdfs::BLOCK_SIZE + 77).map(|i| (i * 7) as u8).collect();
        let key = ContentKey::from_bytes([9; 32]);
        let mut blocks = Vec::new();
        let m = encode_stream(&data[..], Some(&key), |_, _, stored| {
            blocks.push(stored.to_vec());
            Ok(())
        })
        .expect("encoding known content");
        (m, key, blocks)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 4 == 2 {
        if let Ok(t) = StageTicket::decode(rest) {
            assert_eq!(t.encode(), rest, "a decoded ticket must re-encode to its bytes");
            let _ = t.digest();
        }
        return;
    }
    if mode & 1 == 0 {
        if let Ok(m) = Manifest::decode(rest) {
            assert_eq!(m.encode(), rest, "a decoded manifest must re-encode to its bytes");
            let _ = m.content_id();
            for i in [0, 1, m.block_count().saturating_sub(1), m.block_count(), u64::MAX] {
                let _ = (m.plain_len(i), m.stored_len(i), m.proof(i));
            }
            let _ = block_span(m.size, m.size / 2, m.size);
        }
        return;
    }
    let (m, key, blocks) = known();
    let index = u64::from(mode >> 1) % (m.block_count() + 2);
    let decoded = decode_block(m, Some(key), index, rest);
    let genuine = blocks.get(index as usize).is_some_and(|b| b.as_slice() == rest);
    assert_eq!(decoded.is_ok(), genuine, "block {index} accepted iff genuine");
    // Without the key, or with the wrong one, nothing decodes.
    assert!(decode_block(m, Some(&ContentKey::from_bytes([8; 32])), index, rest).is_err());
    assert!(decode_block(m, None, index, rest).is_err());
});
