//! The sync protocol's messages, the trait the node implements to answer
//! them, and the pure rules for serving and checking answers.
//!
//! Kept free of libp2p so the rules (caps, byte budgets, "does this answer
//! that") are unit-testable; `codec` frames these on the wire and `service`
//! wires them into the swarm.

use borsh::{BorshDeserialize, BorshSerialize};
use umbra_types::{Block, Hash, Header, Height};

/// Smallest `max_request_bytes` that still fits every request variant (the
/// largest, `BlockByHash`, is 33 bytes).
pub const MIN_REQUEST_BYTES: usize = 64;

/// A node's view of its chain, exchanged so peers can decide whom to sync from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainStatus {
    pub head_height: Height,
    pub head_hash: Hash,
    pub irreversible_height: Height,
    pub genesis_hash: Hash,
}

/// What a node asks a peer for.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncRequest {
    Status,
    /// Up to `max` consecutive headers starting at height `from`.
    Headers {
        from: Height,
        max: u32,
    },
    /// Up to `max` consecutive blocks starting at height `from`.
    Blocks {
        from: Height,
        max: u32,
    },
    BlockByHash(Hash),
}

/// A peer's answer. Variants are appended, never reordered: the borsh tag is
/// the wire format.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncResponse {
    Status(ChainStatus),
    Headers(Vec<Header>),
    Blocks(Vec<Block>),
    /// Boxed: a block is large next to the other answers.
    Block(Option<Box<Block>>),
    /// The peer is serving too many requests; ask again later or elsewhere.
    /// Not a misbehaviour.
    Busy,
}

/// Read access to the node's chain, used to answer peers' sync requests.
///
/// Calls run on tokio's blocking pool (they may hit the disk); they must not
/// block for long, and may return fewer items than asked (never more matters
/// too: the network trims to the caps).
pub trait SyncProvider: Send + Sync + 'static {
    fn status(&self) -> ChainStatus;
    /// Headers at heights `from, from+1, …`, at most `max` of them.
    fn headers(&self, from: Height, max: u32) -> Vec<Header>;
    /// Blocks at heights `from, from+1, …`, at most `max` of them.
    fn blocks(&self, from: Height, max: u32) -> Vec<Block>;
    fn block_by_hash(&self, hash: Hash) -> Option<Block>;
}

/// The caps that bound what one request can make a node do or send.
#[derive(Clone, Copy, Debug)]
pub struct SyncLimits {
    pub max_headers: u32,
    pub max_blocks: u32,
    pub max_response_bytes: usize,
}

// Borsh overhead of a `SyncResponse::{Headers,Blocks}`: 1 byte of enum tag
// plus a 4-byte vector length.
const LIST_OVERHEAD: usize = 1 + 4;
// `SyncResponse::Block(Some(_))`: enum tag plus option tag.
const OPTION_OVERHEAD: usize = 1 + 1;

/// Answers one request from the provider, trimming the answer to the caps
/// and to the response byte limit (a prefix of a range is still a valid
/// answer; the requester continues from where it ends).
pub fn serve(
    provider: &dyn SyncProvider,
    request: &SyncRequest,
    limits: SyncLimits,
) -> SyncResponse {
    match *request {
        SyncRequest::Status => SyncResponse::Status(provider.status()),
        SyncRequest::Headers { from, max } => {
            let max = max.min(limits.max_headers);
            let headers = provider.headers(from, max);
            SyncResponse::Headers(fit(headers, max, limits.max_response_bytes))
        }
        SyncRequest::Blocks { from, max } => {
            let max = max.min(limits.max_blocks);
            let blocks = provider.blocks(from, max);
            SyncResponse::Blocks(fit(blocks, max, limits.max_response_bytes))
        }
        SyncRequest::BlockByHash(hash) => {
            let block = provider.block_by_hash(hash).filter(|b| {
                encoded_len(b).saturating_add(OPTION_OVERHEAD) <= limits.max_response_bytes
            });
            SyncResponse::Block(block.map(Box::new))
        }
    }
}

/// Keeps the longest prefix of `items` with at most `max` items whose
/// encoding fits in `budget` bytes.
fn fit<T: BorshSerialize>(items: Vec<T>, max: u32, budget: usize) -> Vec<T> {
    let mut used = LIST_OVERHEAD;
    let mut out = Vec::with_capacity(items.len().min(max as usize));
    for item in items.into_iter().take(max as usize) {
        used = used.saturating_add(encoded_len(&item));
        if used > budget {
            break;
        }
        out.push(item);
    }
    out
}

fn encoded_len<T: BorshSerialize>(value: &T) -> usize {
    // Counts without allocating; an error can only come from a writer, and
    // the counting writer has none, so `MAX` (never fits) is only defensive.
    borsh::object_length(value).unwrap_or(usize::MAX)
}

/// Whether `response` is a well-formed answer to `request` under `limits`:
/// the right kind, no more items than asked for, and a `BlockByHash` answer
/// that really has that hash. Anything else is a protocol violation by the
/// peer. Whether the headers or blocks are *valid* is the node's business.
pub fn response_matches(
    request: &SyncRequest,
    response: &SyncResponse,
    limits: SyncLimits,
) -> bool {
    match (request, response) {
        (_, SyncResponse::Busy) => true,
        (SyncRequest::Status, SyncResponse::Status(_)) => true,
        (SyncRequest::Headers { max, .. }, SyncResponse::Headers(h)) => {
            h.len() <= (*max).min(limits.max_headers) as usize
        }
        (SyncRequest::Blocks { max, .. }, SyncResponse::Blocks(b)) => {
            b.len() <= (*max).min(limits.max_blocks) as usize
        }
        (SyncRequest::BlockByHash(hash), SyncResponse::Block(block)) => {
            block.as_ref().is_none_or(|b| b.hash() == *hash)
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use umbra_types::{PublicKey, Signature};

    pub(crate) fn header(height: Height, consensus: Vec<u8>) -> Header {
        Header {
            chain_id: 1,
            height,
            parent_hash: Hash([height as u8; 32]),
            timestamp_ms: height.wrapping_mul(1000),
            proposer: PublicKey([2; 32]),
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            consensus,
            signature: Signature([3; 64]),
        }
    }

    /// Serves a chain of `len` blocks, each with `pad` consensus bytes; it
    /// deliberately ignores `max` so the trimming in `serve` is exercised.
    struct Chain {
        blocks: Vec<Block>,
    }

    impl Chain {
        fn new(len: u64, pad: usize) -> Self {
            let blocks = (0..len)
                .map(|h| Block {
                    header: header(h, vec![0; pad]),
                    transactions: vec![],
                })
                .collect();
            Chain { blocks }
        }
    }

    impl SyncProvider for Chain {
        fn status(&self) -> ChainStatus {
            ChainStatus {
                head_height: self.blocks.len() as u64,
                head_hash: Hash::ZERO,
                irreversible_height: 0,
                genesis_hash: Hash::ZERO,
            }
        }
        fn headers(&self, from: Height, _max: u32) -> Vec<Header> {
            self.blocks(from, u32::MAX)
                .into_iter()
                .map(|b| b.header)
                .collect()
        }
        fn blocks(&self, from: Height, _max: u32) -> Vec<Block> {
            self.blocks.iter().skip(from as usize).cloned().collect()
        }
        fn block_by_hash(&self, hash: Hash) -> Option<Block> {
            self.blocks.iter().find(|b| b.hash() == hash).cloned()
        }
    }

    fn limits(bytes: usize) -> SyncLimits {
        SyncLimits {
            max_headers: 512,
            max_blocks: 64,
            max_response_bytes: bytes,
        }
    }

    #[test]
    fn caps_trim_greedy_providers() {
        let chain = Chain::new(1000, 0);
        let l = limits(1 << 30);
        match serve(
            &chain,
            &SyncRequest::Blocks {
                from: 10,
                max: 1000,
            },
            l,
        ) {
            SyncResponse::Blocks(b) => {
                assert_eq!(b.len(), 64);
                assert_eq!(b[0].header.height, 10);
            }
            other => panic!("unexpected {other:?}"),
        }
        match serve(&chain, &SyncRequest::Headers { from: 0, max: 3 }, l) {
            SyncResponse::Headers(h) => assert_eq!(h.len(), 3),
            other => panic!("unexpected {other:?}"),
        }
        match serve(
            &chain,
            &SyncRequest::Headers {
                from: 0,
                max: 10_000,
            },
            l,
        ) {
            SyncResponse::Headers(h) => assert_eq!(h.len(), 512),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn byte_budget_keeps_a_prefix_that_fits() {
        let chain = Chain::new(10, 10_000);
        let l = limits(35_000);
        let resp = serve(&chain, &SyncRequest::Blocks { from: 0, max: 10 }, l);
        let len = crate::codec::encoded_response_len(&resp);
        assert!(len <= 35_000, "{len}");
        match resp {
            SyncResponse::Blocks(b) => assert_eq!(b.len(), 3),
            other => panic!("unexpected {other:?}"),
        }
        // A single block over the budget is not served by hash either.
        let big = chain.blocks[0].hash();
        assert_eq!(
            serve(&chain, &SyncRequest::BlockByHash(big), limits(5_000)),
            SyncResponse::Block(None)
        );
    }

    #[test]
    fn matching_rules() {
        let l = limits(1 << 20);
        let chain = Chain::new(3, 0);
        let b0 = chain.blocks[0].clone();
        let req = SyncRequest::Blocks { from: 0, max: 1 };
        assert!(response_matches(
            &req,
            &SyncResponse::Blocks(vec![b0.clone()]),
            l
        ));
        assert!(!response_matches(
            &req,
            &SyncResponse::Blocks(vec![b0.clone(), b0.clone()]),
            l
        ));
        assert!(!response_matches(&req, &SyncResponse::Headers(vec![]), l));
        assert!(response_matches(&req, &SyncResponse::Busy, l));
        let by_hash = SyncRequest::BlockByHash(b0.hash());
        assert!(response_matches(
            &by_hash,
            &SyncResponse::Block(Some(Box::new(b0.clone()))),
            l
        ));
        assert!(response_matches(&by_hash, &SyncResponse::Block(None), l));
        let other = chain.blocks[1].clone();
        assert!(!response_matches(
            &by_hash,
            &SyncResponse::Block(Some(Box::new(other))),
            l
        ));
        assert!(!response_matches(
            &SyncRequest::Status,
            &SyncResponse::Block(None),
            l
        ));
    }
}
