//! Per-chain protocol names and gossip topics.
//!
//! Every name carries the chain id, so nodes of two chains that find each
//! other (same DHT, same port) never mix transactions, blocks or routing
//! tables. The trailing number is the wire version of that protocol.

use libp2p::StreamProtocol;
use libp2p::gossipsub::IdentTopic;

/// Gossip topic of transactions: `/umbra/<chain_id>/tx/1`.
pub fn tx_topic(chain_id: u64) -> IdentTopic {
    IdentTopic::new(format!("/umbra/{chain_id}/tx/1"))
}

/// Gossip topic of blocks: `/umbra/<chain_id>/block/1`.
pub fn block_topic(chain_id: u64) -> IdentTopic {
    IdentTopic::new(format!("/umbra/{chain_id}/block/1"))
}

/// Request-response protocol of sync: `/umbra/<chain_id>/sync/1`.
pub fn sync_protocol(chain_id: u64) -> StreamProtocol {
    // The name always starts with '/', which is all `try_from_owned` checks;
    // the fallback is unreachable but keeps this free of `expect`.
    StreamProtocol::try_from_owned(format!("/umbra/{chain_id}/sync/1"))
        .unwrap_or(StreamProtocol::new("/umbra/sync/1"))
}

/// Request-response protocol of content-block transfer:
/// `/umbra/<chain_id>/content/1`.
pub fn content_protocol(chain_id: u64) -> StreamProtocol {
    StreamProtocol::try_from_owned(format!("/umbra/{chain_id}/content/1"))
        .unwrap_or(StreamProtocol::new("/umbra/content/1"))
}

/// Kademlia protocol: `/umbra/<chain_id>/kad/1`, a DHT of this chain's nodes only.
pub fn kad_protocol(chain_id: u64) -> StreamProtocol {
    StreamProtocol::try_from_owned(format!("/umbra/{chain_id}/kad/1"))
        .unwrap_or(StreamProtocol::new("/umbra/kad/1"))
}

/// What identify announces as protocol version; peers announcing another are
/// on another chain (or an incompatible version) and are disconnected.
pub fn identify_version(chain_id: u64) -> String {
    format!("/umbra/{chain_id}/1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_chain_id() {
        assert_eq!(tx_topic(7).to_string(), "/umbra/7/tx/1");
        assert_eq!(block_topic(7).to_string(), "/umbra/7/block/1");
        assert_eq!(sync_protocol(7).as_ref(), "/umbra/7/sync/1");
        assert_eq!(kad_protocol(7).as_ref(), "/umbra/7/kad/1");
        assert_eq!(content_protocol(7).as_ref(), "/umbra/7/content/1");
        assert_ne!(block_topic(7).hash(), block_topic(8).hash());
    }
}
