//! Errors the network layer reports to the node.

use libp2p::PeerId;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid network configuration: {0}")]
    Config(String),
    #[error("invalid node identity: {0}")]
    Identity(String),
    #[error("transport setup failed: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("the network task has stopped")]
    Closed,
    #[error("the network is overloaded ({0}); try again later")]
    Busy(&'static str),
    #[error("message of {size} bytes is over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("no connected peer subscribes to the topic")]
    NoPeers,
    #[error("the same message was already published")]
    Duplicate,
    #[error("publishing failed: {0}")]
    Publish(String),
    #[error("peer {0} is blocked or banned")]
    Blocked(PeerId),
    #[error("request to {peer} failed: {reason}")]
    Request { peer: PeerId, reason: String },
    #[error("request to {0} timed out")]
    Timeout(PeerId),
    #[error("peer {0} sent a response that does not answer the request")]
    BadResponse(PeerId),
}
