//! Gossip of transactions and blocks: gossipsub settings, message ids, and
//! turning a received payload into a typed value (decoding only: whether the
//! transaction or block is *valid* is the node's verdict).

use crate::config::NetworkConfig;
use crate::error::NetworkError;
use crate::names;
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

/// A decoded gossip payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Tx(Transaction),
    Block(Block),
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
    pub max_tx_bytes: usize,
    pub max_block_bytes: usize,
}

impl PayloadLimits {
    pub fn limit(&self, kind: GossipKind) -> usize {
        match kind {
            GossipKind::Tx => self.max_tx_bytes,
            GossipKind::Block => self.max_block_bytes,
        }
    }
}

impl From<&NetworkConfig> for PayloadLimits {
    fn from(cfg: &NetworkConfig) -> Self {
        PayloadLimits {
            max_tx_bytes: cfg.max_tx_bytes,
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
        GossipKind::Tx => Payload::Tx(decode_bounded(data, limit)?),
        GossipKind::Block => Payload::Block(decode_bounded(data, limit)?),
    })
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
        .max_transmit_size(cfg.max_block_bytes.saturating_add(ENVELOPE_SLACK))
        .max_transmit_size_for_topic(cfg.max_tx_bytes, topics.tx.hash())
        .max_transmit_size_for_topic(cfg.max_block_bytes, topics.block.hash())
        // Mesh forms a second after start instead of five; matters for
        // devnets and tests, costs nothing on a long-running node.
        .heartbeat_initial_delay(Duration::from_secs(1))
        // Thousands of transactions a second, each its own message, filled
        // the default 5,000-message queue per peer and dropped them.
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
            max_block_bytes: 4096,
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
            Ok(Payload::Block(block))
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
