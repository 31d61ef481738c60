//! Gossip of transactions and blocks: gossipsub settings, message ids, and
//! turning a received payload into a typed value (decoding only: whether the
//! transaction or block is *valid* is the node's verdict).

use crate::config::{NetworkConfig, TX_BATCH_PREFIX};
use crate::error::NetworkError;
use crate::names;
use borsh::BorshDeserialize;
use libp2p::gossipsub::{self, IdentTopic, MessageId, TopicHash, ValidationMode};
use std::time::Duration;
use umbra_types::{Block, DecodeError, Transaction, decode_bounded, sha256_parts};

/// Room for gossipsub's own framing (protobuf envelope, signature, public
/// key, topic) on top of the largest payload.
const ENVELOPE_SLACK: usize = 16 * 1024;

/// The two topics of a chain.
#[derive(Clone, Debug)]
pub struct Topics {
    pub tx: IdentTopic,
    pub block: IdentTopic,
}

/// What a topic carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GossipKind {
    Tx,
    Block,
}

/// A decoded gossip payload. Transactions travel in batches (a borsh
/// `Vec<Transaction>`, never empty): see [`NetworkConfig::max_tx_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Txs(Vec<Transaction>),
    /// Boxed: a header is far larger than a batch's vector.
    Block(Box<Block>),
}

impl Topics {
    pub fn new(chain_id: u64) -> Self {
        Topics {
            tx: names::tx_topic(chain_id),
            block: names::block_topic(chain_id),
        }
    }

    pub fn kind(&self, topic: &TopicHash) -> Option<GossipKind> {
        if *topic == self.tx.hash() {
            Some(GossipKind::Tx)
        } else if *topic == self.block.hash() {
            Some(GossipKind::Block)
        } else {
            None
        }
    }

    pub fn topic(&self, kind: GossipKind) -> &IdentTopic {
        match kind {
            GossipKind::Tx => &self.tx,
            GossipKind::Block => &self.block,
        }
    }
}

/// The size limits of gossip payloads.
#[derive(Clone, Copy, Debug)]
pub struct PayloadLimits {
    /// Largest transaction inside a batch.
    pub max_tx_bytes: usize,
    /// Most transactions in a batch.
    pub max_tx_batch: usize,
    /// Largest whole batch.
    pub max_tx_batch_bytes: usize,
    pub max_block_bytes: usize,
}

impl PayloadLimits {
    /// The largest payload on a topic of `kind`.
    pub fn limit(&self, kind: GossipKind) -> usize {
        match kind {
            GossipKind::Tx => self.max_tx_batch_bytes,
            GossipKind::Block => self.max_block_bytes,
        }
    }
}

impl From<&NetworkConfig> for PayloadLimits {
    fn from(cfg: &NetworkConfig) -> Self {
        PayloadLimits {
            max_tx_bytes: cfg.max_tx_bytes,
            max_tx_batch: cfg.max_tx_batch,
            max_tx_batch_bytes: cfg.max_tx_batch_bytes,
            max_block_bytes: cfg.max_block_bytes,
        }
    }
}

/// Decodes a payload received on a topic of `kind`, within its size limit.
pub fn decode_payload(
    kind: GossipKind,
    data: &[u8],
    limits: PayloadLimits,
) -> Result<Payload, DecodeError> {
    let limit = limits.limit(kind);
    Ok(match kind {
        GossipKind::Tx => Payload::Txs(decode_tx_batch(data, limits)?),
        GossipKind::Block => Payload::Block(Box::new(decode_bounded(data, limit)?)),
    })
}

/// Decodes a transaction batch: at most `max_tx_batch` transactions, each
/// at most `max_tx_bytes` encoded, nothing after them. The count is checked
/// before anything is allocated for it.
fn decode_tx_batch(data: &[u8], limits: PayloadLimits) -> Result<Vec<Transaction>, DecodeError> {
    if data.len() > limits.max_tx_batch_bytes {
        return Err(DecodeError::TooLarge {
            size: data.len(),
            limit: limits.max_tx_batch_bytes,
        });
    }
    let malformed = |why: String| DecodeError::Malformed(why);
    let mut rest = data;
    let count = u32::deserialize(&mut rest).map_err(|e| malformed(e.to_string()))? as usize;
    if count == 0 || count > limits.max_tx_batch {
        return Err(malformed(format!(
            "a transaction batch of {count}, not 1 to {}",
            limits.max_tx_batch
        )));
    }
    // Each transaction takes more than a byte, so the count is also bounded
    // by what was received.
    let mut txs = Vec::with_capacity(count.min(rest.len()));
    for _ in 0..count {
        let before = rest.len();
        let tx = Transaction::deserialize(&mut rest).map_err(|e| malformed(e.to_string()))?;
        let size = before - rest.len();
        if size > limits.max_tx_bytes {
            return Err(DecodeError::TooLarge {
                size,
                limit: limits.max_tx_bytes,
            });
        }
        txs.push(tx);
    }
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes after the batch's transactions",
            rest.len()
        )));
    }
    Ok(txs)
}

/// Splits encoded transactions into gossip batches within `limits`, in
/// order: each batch is a borsh `Vec<Transaction>` as [`decode_payload`]
/// reads it. A transaction over `max_tx_bytes` is left out (returned in the
/// second list by position) instead of failing the others.
pub fn encode_tx_batches(encoded: &[Vec<u8>], limits: PayloadLimits) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut batches = Vec::new();
    let mut too_large = Vec::new();
    let mut current: Vec<&[u8]> = Vec::new();
    let mut bytes = TX_BATCH_PREFIX;
    let flush = |current: &mut Vec<&[u8]>, batches: &mut Vec<Vec<u8>>| {
        if current.is_empty() {
            return;
        }
        let size = TX_BATCH_PREFIX + current.iter().map(|t| t.len()).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(current.len() as u32).to_le_bytes());
        for t in current.drain(..) {
            out.extend_from_slice(t);
        }
        batches.push(out);
    };
    for (i, tx) in encoded.iter().enumerate() {
        if tx.len() > limits.max_tx_bytes {
            too_large.push(i);
            continue;
        }
        if current.len() == limits.max_tx_batch || bytes + tx.len() > limits.max_tx_batch_bytes {
            flush(&mut current, &mut batches);
            bytes = TX_BATCH_PREFIX;
        }
        bytes += tx.len();
        current.push(tx);
    }
    flush(&mut current, &mut batches);
    (batches, too_large)
}

/// Content-addressed message id: the same transaction or block published by
/// two nodes is one message, so it is delivered and forwarded once. The
/// topic is hashed in so a tx and a block with equal bytes cannot collide.
pub fn message_id(message: &gossipsub::Message) -> MessageId {
    let digest = sha256_parts(&[message.topic.as_str().as_bytes(), &[0], &message.data]);
    // 20 bytes, like libp2p's own ids: ample against accidental collisions.
    MessageId::from(digest.0.iter().take(20).copied().collect::<Vec<u8>>())
}

/// gossipsub settings: signed messages checked strictly, validation left to
/// the node, sizes raised to the chain's limits.
pub fn config(cfg: &NetworkConfig, topics: &Topics) -> Result<gossipsub::Config, NetworkError> {
    gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(message_id)
        // The frame limit covers the largest block plus its envelope;
        // per-topic limits hold each payload to its own maximum.
        .max_transmit_size(
            cfg.max_block_bytes
                .max(cfg.max_tx_batch_bytes)
                .saturating_add(ENVELOPE_SLACK),
        )
        .max_transmit_size_for_topic(cfg.max_tx_batch_bytes, topics.tx.hash())
        .max_transmit_size_for_topic(cfg.max_block_bytes, topics.block.hash())
        // Mesh forms a second after start instead of five; matters for
        // devnets and tests, costs nothing on a long-running node.
        .heartbeat_initial_delay(Duration::from_secs(1))
        // Thousands of transactions a second (in batches now, but one
        // message each when they trickle in) filled the default
        // 5,000-message queue per peer and dropped them.
        .connection_handler_queue_len(32_768)
        .build()
        .map_err(|e| NetworkError::Config(format!("gossipsub: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::tests::header;

    fn limits() -> PayloadLimits {
        PayloadLimits {
            max_tx_bytes: 1024,
            max_tx_batch: 8,
            max_tx_batch_bytes: 2048,
            max_block_bytes: 4096,
        }
    }

    fn tx(nonce: u64, payload_bytes: usize) -> Transaction {
        use umbra_types::{Address, MessageBody, Payload as P, PublicKey, RefBlock, Signature};
        Transaction {
            chain_id: 3,
            sender: PublicKey([7; 32]),
            nonce,
            ref_block: RefBlock::default(),
            max_fee: 1000,
            payload: if payload_bytes == 0 {
                P::Transfer {
                    to: Address([9; 32]),
                    amount: 5,
                }
            } else {
                P::BoxPush {
                    name: "b".into(),
                    body: MessageBody::Data(vec![1; payload_bytes]),
                }
            },
            signature: Signature([1; 64]),
        }
    }

    fn encoded(txs: &[Transaction]) -> Vec<Vec<u8>> {
        txs.iter().map(umbra_types::encode).collect()
    }

    #[test]
    fn tx_batches_split_within_limits_and_decode_in_order() {
        // 20 small ones: batches of at most 8; one over max_tx_bytes is
        // left out and named.
        let mut txs: Vec<Transaction> = (0..20).map(|n| tx(n, 0)).collect();
        txs.insert(5, tx(99, 1500));
        let (batches, too_large) = encode_tx_batches(&encoded(&txs), limits());
        assert_eq!(too_large, vec![5]);
        let mut got = Vec::new();
        for b in &batches {
            assert!(b.len() <= limits().max_tx_batch_bytes);
            let Payload::Txs(t) = decode_payload(GossipKind::Tx, b, limits()).unwrap() else {
                panic!("not transactions")
            };
            assert!(!t.is_empty() && t.len() <= 8);
            got.extend(t);
        }
        txs.remove(5);
        assert_eq!(got, txs);
        // Byte-bound: ~900-byte transactions, two per 2,048-byte batch.
        let big: Vec<Transaction> = (0..5).map(|n| tx(n, 800)).collect();
        let (batches, too_large) = encode_tx_batches(&encoded(&big), limits());
        assert!(too_large.is_empty());
        assert_eq!(batches.len(), 3);
        // A batch is a borsh Vec<Transaction>.
        assert_eq!(batches[2], umbra_types::encode(&vec![big[4].clone()]));
    }

    #[test]
    fn bad_tx_batches_are_refused() {
        let one = umbra_types::encode(&tx(1, 0));
        let batch = |count: u32, body: &[u8]| {
            let mut b = count.to_le_bytes().to_vec();
            b.extend_from_slice(body);
            b
        };
        let refused = |data: &[u8]| decode_payload(GossipKind::Tx, data, limits()).is_err();
        assert!(!refused(&batch(1, &one)));
        assert!(refused(&batch(0, &[])), "empty batch");
        assert!(refused(&batch(9, &one.repeat(9))), "more than max_tx_batch");
        assert!(refused(&batch(u32::MAX, &one)), "count beyond the data");
        assert!(refused(&batch(2, &one)), "truncated");
        assert!(
            refused(&batch(1, &[one.clone(), vec![0]].concat())),
            "trailing byte"
        );
        assert!(refused(&one), "a bare transaction is not a batch");
        let wide = umbra_types::encode(&tx(1, 1100));
        assert!(matches!(
            decode_payload(GossipKind::Tx, &batch(1, &wide), limits()),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(refused(&vec![1; 3000]), "over max_tx_batch_bytes");
    }

    proptest::proptest! {
        // Whatever arrives on the transaction topic decodes or is refused;
        // it never panics.
        #[test]
        fn arbitrary_tx_payloads_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = decode_payload(GossipKind::Tx, &data, limits());
            let mut prefixed = 1u32.to_le_bytes().to_vec();
            prefixed.extend_from_slice(&data);
            let _ = decode_payload(GossipKind::Tx, &prefixed, limits());
        }
    }

    #[test]
    fn blocks_decode_and_garbage_does_not() {
        let block = Block {
            header: header(4, vec![1, 2, 3]),
            transactions: vec![],
        };
        let bytes = umbra_types::encode(&block);
        assert_eq!(
            decode_payload(GossipKind::Block, &bytes, limits()),
            Ok(Payload::Block(Box::new(block)))
        );
        assert!(decode_payload(GossipKind::Block, b"garbage", limits()).is_err());
        assert!(decode_payload(GossipKind::Tx, &bytes, limits()).is_err());
    }

    #[test]
    fn oversize_payloads_are_refused_before_decoding() {
        let big = Block {
            header: header(4, vec![0; 5000]),
            transactions: vec![],
        };
        let bytes = umbra_types::encode(&big);
        assert!(matches!(
            decode_payload(GossipKind::Block, &bytes, limits()),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn topics_classify_and_ids_are_content_addressed() {
        let t = Topics::new(3);
        assert_eq!(t.kind(&t.tx.hash()), Some(GossipKind::Tx));
        assert_eq!(t.kind(&t.block.hash()), Some(GossipKind::Block));
        assert_eq!(t.kind(&Topics::new(4).tx.hash()), None);
        let msg = |topic: TopicHash, data: &[u8], seq| gossipsub::Message {
            source: None,
            data: data.to_vec(),
            sequence_number: Some(seq),
            topic,
        };
        assert_eq!(
            message_id(&msg(t.tx.hash(), b"a", 1)),
            message_id(&msg(t.tx.hash(), b"a", 2))
        );
        assert_ne!(
            message_id(&msg(t.tx.hash(), b"a", 1)),
            message_id(&msg(t.block.hash(), b"a", 1))
        );
        assert_ne!(
            message_id(&msg(t.tx.hash(), b"a", 1)),
            message_id(&msg(t.tx.hash(), b"b", 1))
        );
    }
}
