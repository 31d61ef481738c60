//! The content-block transfer protocol (`/umbra/<chain>/content/1`): its
//! messages, the trait the node implements to answer them, and the pure
//! rules for serving and checking answers.
//!
//! The network layer moves bytes; it does not know what a manifest or an
//! allocation is (that lives above it, in `pdfs` and the node). What it can
//! check by itself it checks: a block answer must hash to the id asked for,
//! a `Has` answer must have one flag per id, and every answer must be of the
//! kind the request calls for. Whether a pushed block belongs to allocated
//! content, or a manifest to its id, is the [`ContentProvider`]'s business.
//!
//! Kept free of libp2p (like `sync`) so these rules are unit-testable;
//! `codec` frames the messages and `service` wires them into the swarm.

use borsh::{BorshDeserialize, BorshSerialize};
use libp2p::PeerId;
use umbra_types::{Hash, MerkleProof, sha256};

/// Most block ids one `HasBlocks` request may carry; larger asks are refused.
pub const MAX_HAS_IDS: usize = 1024;

/// Longest reason a `Refused` answer carries (bytes, cut at a character
/// boundary when served); a longer one is a malformed answer.
pub const MAX_REFUSAL_BYTES: usize = 256;

/// The refusal of a node that runs no content provider.
pub const NOT_A_STORAGE_NODE: &str = "not a storage node";

/// What a node asks a peer for. Variants are appended, never reordered: the
/// borsh tag is the wire format.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ContentRequest {
    /// Store block `index` of allocated content `content_id`; `proof` shows
    /// `sha256(data)` is leaf `index` under the content id (a Merkle root).
    PutBlock {
        content_id: Hash,
        index: u64,
        proof: MerkleProof,
        data: Vec<u8>,
    },
    /// The block whose SHA-256 is `id`.
    GetBlock { id: Hash },
    /// Which of these blocks the peer holds (at most [`MAX_HAS_IDS`]).
    HasBlocks { ids: Vec<Hash> },
    /// Store a content's manifest (opaque bytes; the node checks it).
    PutManifest { content_id: Hash, manifest: Vec<u8> },
    /// The manifest of `content_id`, if the peer holds it.
    GetManifest { content_id: Hash },
}

/// A peer's answer. Variants are appended, never reordered.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ContentResponse {
    /// A `PutBlock` or `PutManifest` was accepted and stored.
    Stored,
    /// The request was understood and declined (not allocated, wrong proof,
    /// not a storage node…); the reason is for logs, at most
    /// [`MAX_REFUSAL_BYTES`]. Valid for any request; not a misbehaviour.
    Refused(String),
    /// Answer to `GetBlock`: the block, or `None` if the peer lacks it.
    Block(Option<Vec<u8>>),
    /// Answer to `HasBlocks`: one flag per id, in order.
    Has(Vec<bool>),
    /// Answer to `GetManifest`.
    Manifest(Option<Vec<u8>>),
    /// The peer is serving too many requests; ask again later or elsewhere.
    /// Not a misbehaviour.
    Busy,
}

/// The node's side of the content protocol: stores what peers push and
/// serves what it holds.
///
/// Called on tokio's blocking pool, so it may touch the disk; at most
/// `NetworkConfig::max_concurrent_content_serves` calls run at once (beyond
/// that peers are answered `Busy` without a call).
pub trait ContentProvider: Send + Sync + 'static {
    /// Answers `request` from `peer` (the authenticated sender).
    fn handle(&self, peer: PeerId, request: ContentRequest) -> ContentResponse;
}

/// What a well-formed answer to one request looks like: the part of the
/// request needed to check the answer, so the request itself (a 256 KiB
/// block, say) can be handed to the swarm without a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// `Stored` (for `PutBlock` and `PutManifest`).
    Stored,
    /// `Block`, whose bytes, if any, hash to this id.
    Block(Hash),
    /// `Has` with exactly this many flags.
    Has(usize),
    /// `Manifest`.
    Manifest,
}

impl Expected {
    pub fn of(request: &ContentRequest) -> Self {
        match request {
            ContentRequest::PutBlock { .. } | ContentRequest::PutManifest { .. } => {
                Expected::Stored
            }
            ContentRequest::GetBlock { id } => Expected::Block(*id),
            ContentRequest::HasBlocks { ids } => Expected::Has(ids.len()),
            ContentRequest::GetManifest { .. } => Expected::Manifest,
        }
    }

    /// Whether `response` answers a request of this shape (see
    /// [`response_matches`]). Hashes a returned block: call it off the
    /// swarm task.
    pub fn matches(&self, response: &ContentResponse) -> bool {
        match (self, response) {
            (_, ContentResponse::Busy) => true,
            (_, ContentResponse::Refused(why)) => why.len() <= MAX_REFUSAL_BYTES,
            (Expected::Stored, ContentResponse::Stored) => true,
            (Expected::Block(id), ContentResponse::Block(block)) => {
                block.as_ref().is_none_or(|data| sha256(data) == *id)
            }
            (Expected::Has(n), ContentResponse::Has(flags)) => flags.len() == *n,
            (Expected::Manifest, ContentResponse::Manifest(_)) => true,
            _ => false,
        }
    }
}

/// Whether `response` is a well-formed answer to `request`: the right kind
/// (`Busy` and a short `Refused` fit any request), a block that really
/// hashes to the id asked for, one `Has` flag per id. Anything else is a
/// protocol violation by the peer.
pub fn response_matches(request: &ContentRequest, response: &ContentResponse) -> bool {
    Expected::of(request).matches(response)
}

/// A refusal with `reason` cut to [`MAX_REFUSAL_BYTES`] (at a character
/// boundary).
pub fn refused(reason: impl Into<String>) -> ContentResponse {
    let mut reason = reason.into();
    if reason.len() > MAX_REFUSAL_BYTES {
        let mut cut = MAX_REFUSAL_BYTES;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    ContentResponse::Refused(reason)
}

/// Answers one inbound request: refuses what no provider should see (too
/// many ids; anything at all when this node stores no content), asks the
/// provider otherwise, and keeps its answer within the wire limits (a long
/// reason is cut, an answer over `max_response_bytes` becomes a refusal).
///
/// The provider's answer is *not* checked against the request: a provider
/// that lies is the requester's to catch.
pub fn serve(
    provider: Option<&dyn ContentProvider>,
    peer: PeerId,
    request: ContentRequest,
    max_response_bytes: usize,
) -> ContentResponse {
    let Some(provider) = provider else {
        return refused(NOT_A_STORAGE_NODE);
    };
    if let ContentRequest::HasBlocks { ids } = &request
        && ids.len() > MAX_HAS_IDS
    {
        return refused(format!("at most {MAX_HAS_IDS} ids per request"));
    }
    match provider.handle(peer, request) {
        ContentResponse::Refused(why) => refused(why),
        response if encoded_len(&response) > max_response_bytes => {
            refused("response over the size limit")
        }
        response => response,
    }
}

/// Size of a value's borsh encoding (the frame body), counted without
/// allocating.
pub fn encoded_len<T: BorshSerialize>(value: &T) -> usize {
    borsh::object_length(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::{merkle_proof, merkle_root};

    fn block(n: u8, len: usize) -> Vec<u8> {
        vec![n; len]
    }

    #[test]
    fn block_answers_must_hash_to_the_id() {
        let data = block(1, 1000);
        let req = ContentRequest::GetBlock { id: sha256(&data) };
        assert!(response_matches(
            &req,
            &ContentResponse::Block(Some(data.clone()))
        ));
        assert!(response_matches(&req, &ContentResponse::Block(None)));
        assert!(!response_matches(
            &req,
            &ContentResponse::Block(Some(block(2, 1000)))
        ));
        let mut flipped = data;
        flipped[999] ^= 1;
        assert!(!response_matches(
            &req,
            &ContentResponse::Block(Some(flipped))
        ));
        assert!(!response_matches(&req, &ContentResponse::Manifest(None)));
        assert!(!response_matches(&req, &ContentResponse::Stored));
    }

    #[test]
    fn has_answers_need_one_flag_per_id() {
        let req = ContentRequest::HasBlocks {
            ids: vec![Hash([1; 32]), Hash([2; 32])],
        };
        assert!(response_matches(
            &req,
            &ContentResponse::Has(vec![true, false])
        ));
        assert!(!response_matches(&req, &ContentResponse::Has(vec![true])));
        assert!(!response_matches(
            &req,
            &ContentResponse::Has(vec![true, true, true])
        ));
        assert!(!response_matches(&req, &ContentResponse::Block(None)));
    }

    #[test]
    fn kinds_must_match_and_busy_or_refused_fit_all() {
        let leaves = [sha256(b"a"), sha256(b"b")];
        let put = ContentRequest::PutBlock {
            content_id: merkle_root(&leaves),
            index: 1,
            proof: merkle_proof(&leaves, 1).unwrap(),
            data: b"b".to_vec(),
        };
        let manifest = ContentRequest::PutManifest {
            content_id: Hash([3; 32]),
            manifest: vec![1, 2, 3],
        };
        let get_manifest = ContentRequest::GetManifest {
            content_id: Hash([3; 32]),
        };
        for req in [&put, &manifest] {
            assert!(response_matches(req, &ContentResponse::Stored));
            assert!(!response_matches(req, &ContentResponse::Has(vec![])));
            assert!(!response_matches(req, &ContentResponse::Manifest(None)));
        }
        assert!(response_matches(
            &get_manifest,
            &ContentResponse::Manifest(Some(vec![9]))
        ));
        assert!(!response_matches(&get_manifest, &ContentResponse::Stored));
        for req in [&put, &manifest, &get_manifest] {
            assert!(response_matches(req, &ContentResponse::Busy));
            assert!(response_matches(
                req,
                &ContentResponse::Refused("no".into())
            ));
            assert!(!response_matches(
                req,
                &ContentResponse::Refused("x".repeat(MAX_REFUSAL_BYTES + 1))
            ));
        }
    }

    struct Echo;
    impl ContentProvider for Echo {
        fn handle(&self, _peer: PeerId, request: ContentRequest) -> ContentResponse {
            match request {
                ContentRequest::GetBlock { id } => ContentResponse::Block(Some(id.0.repeat(100))),
                ContentRequest::HasBlocks { ids } => ContentResponse::Has(vec![true; ids.len()]),
                _ => ContentResponse::Refused("é".repeat(MAX_REFUSAL_BYTES)),
            }
        }
    }

    #[test]
    fn serving_bounds_what_goes_out() {
        let peer = PeerId::random();
        let get = ContentRequest::GetBlock { id: Hash([1; 32]) };
        // No provider: everything is refused.
        assert_eq!(
            serve(None, peer, get.clone(), 1 << 20),
            ContentResponse::Refused(NOT_A_STORAGE_NODE.into())
        );
        // An answer over the response limit is not sent.
        assert!(matches!(
            serve(Some(&Echo), peer, get.clone(), 1000),
            ContentResponse::Refused(_)
        ));
        assert!(matches!(
            serve(Some(&Echo), peer, get, 1 << 20),
            ContentResponse::Block(Some(b)) if b.len() == 3200
        ));
        // Too many ids never reach the provider.
        let many = ContentRequest::HasBlocks {
            ids: vec![Hash::ZERO; MAX_HAS_IDS + 1],
        };
        assert!(matches!(
            serve(Some(&Echo), peer, many, 1 << 20),
            ContentResponse::Refused(_)
        ));
        let most = ContentRequest::HasBlocks {
            ids: vec![Hash::ZERO; MAX_HAS_IDS],
        };
        assert!(matches!(
            serve(Some(&Echo), peer, most, 1 << 20),
            ContentResponse::Has(f) if f.len() == MAX_HAS_IDS
        ));
        // A long reason is cut at a character boundary.
        let ContentResponse::Refused(why) = serve(
            Some(&Echo),
            peer,
            ContentRequest::GetManifest {
                content_id: Hash::ZERO,
            },
            1 << 20,
        ) else {
            panic!("expected a refusal");
        };
        assert!(why.len() <= MAX_REFUSAL_BYTES && why.len() >= MAX_REFUSAL_BYTES - 1);
        assert!(why.chars().all(|c| c == 'é'));
    }
}
