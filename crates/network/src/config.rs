//! What a node tells the network layer when it starts it.
//!
//! Every limit the crate enforces lives here so the defaults are visible in
//! one place (iroh's "presets" habit) and tests can shrink them.

use crate::error::NetworkError;
use libp2p::Multiaddr;
use std::time::Duration;

/// 8 MiB: the largest block body umbra gossips or serves.
pub const DEFAULT_MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;
/// 64 KiB: the largest transaction umbra gossips.
pub const DEFAULT_MAX_TX_BYTES: usize = 64 * 1024;
/// Bytes of a transaction batch's count prefix.
pub const TX_BATCH_PREFIX: usize = 4;
/// 2.5 MiB: the largest content request read from a stream. A block push
/// (256 KiB + 16 B of block, a proof of up to 32 siblings, framing) needs
/// about 258 KiB; a manifest of 65,536 block ids about 2.1 MiB.
pub const DEFAULT_MAX_CONTENT_REQUEST_BYTES: usize = 5 * 512 * 1024;
/// 2.5 MiB: the largest content response read from a stream (a manifest).
pub const DEFAULT_MAX_CONTENT_RESPONSE_BYTES: usize = 5 * 512 * 1024;
/// Smallest content limits accepted: room for every small request and
/// answer (a `GetBlock` is 33 bytes).
pub const MIN_CONTENT_BYTES: usize = 1024;

/// Configuration of one node's network layer. Its `Debug` output leaves
/// the secret out, so configurations can be logged.
#[derive(Clone)]
pub struct NetworkConfig {
    /// Address to listen on; `/ip4/127.0.0.1/tcp/0` picks a free port (see
    /// `NetworkHandle::listen_addrs`).
    pub listen: Multiaddr,
    /// Ed25519 seed of the node's libp2p identity. It signs every gossip
    /// message, so peers can attribute (and punish) what they receive.
    pub secret: [u8; 32],
    /// Peers to join through, each ending in `/p2p/<peer id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// The chain this node follows; every protocol name and topic carries it,
    /// so nodes of different chains never exchange messages.
    pub chain_id: u64,
    /// Largest encoded block accepted from gossip or a sync response.
    pub max_block_bytes: usize,
    /// Largest encoded transaction accepted from gossip.
    pub max_tx_bytes: usize,
    /// Most transactions in one gossip message. Transactions travel in
    /// batches because every gossip message carries (and every receiver
    /// checks) a libp2p signature: one per transaction cost more CPU than
    /// the transactions themselves at a few thousand a second.
    pub max_tx_batch: usize,
    /// Largest encoded transaction batch (one gossip message).
    pub max_tx_batch_bytes: usize,
    /// Largest encoded sync request read from a stream.
    pub max_request_bytes: usize,
    /// Largest encoded sync response read from a stream (and served).
    pub max_response_bytes: usize,
    /// Most headers one `Headers` request may ask for (larger asks are capped).
    pub max_headers_per_request: u32,
    /// Most blocks one `Blocks` request may ask for (larger asks are capped).
    pub max_blocks_per_request: u32,
    /// How long one sync request may take, end to end.
    pub request_timeout: Duration,
    /// Capacity of the event channel to the node; when it is full, events are
    /// dropped (and counted) rather than stalling the swarm.
    pub event_queue: usize,
    /// Capacity of the command channel from handles to the swarm task.
    pub command_queue: usize,
    /// Most of our own sync requests waiting for an answer at once.
    pub max_pending_requests: usize,
    /// Most inbound sync requests being served (provider calls) at once.
    pub max_concurrent_serves: usize,
    /// Below this many connected peers the node keeps looking for more.
    pub target_peers: usize,
    /// Hard cap on established connections.
    pub max_connections: u32,
    /// How often discovery runs while below `target_peers`.
    pub discovery_interval: Duration,
    /// How long a connection with no protocol activity stays open.
    pub idle_timeout: Duration,
    /// Scoring policy (penalties, ban threshold, ban length).
    pub scoring: crate::scoreboard::ScoreConfig,
    /// Largest encoded content request read from a stream (checked before
    /// the body is read) and sent.
    pub max_content_request_bytes: usize,
    /// Largest encoded content response read from a stream and served.
    pub max_content_response_bytes: usize,
    /// How long one content request may take, end to end.
    pub content_request_timeout: Duration,
    /// Most inbound content requests being served (provider calls) at once;
    /// beyond it peers are answered `Busy`.
    pub max_concurrent_content_serves: usize,
    /// Most of our own content requests waiting for an answer at once.
    pub max_pending_content_requests: usize,
    /// Most bytes of inbound content requests being read at once, over all
    /// connections; a request beyond it has its stream reset.
    pub max_inbound_content_bytes: usize,
    /// Most keys this node provides (announces in the DHT) itself.
    pub max_provided_keys: usize,
    /// Most provider records of other peers kept, all together.
    pub max_remote_provider_records: usize,
    /// Most provider records of any one other peer kept.
    pub max_provider_records_per_peer: usize,
    /// Most provider announcements (DHT queries) running at once; more
    /// wait in a queue.
    pub max_concurrent_publishes: usize,
    /// Most `providers` look-ups running at once.
    pub max_provider_queries: usize,
    /// How long a `providers` look-up collects answers (at most an hour;
    /// checked every second).
    pub provider_query_timeout: Duration,
}

impl std::fmt::Debug for NetworkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkConfig")
            .field("listen", &self.listen)
            .field("secret", &"<redacted>")
            .field("bootstrap", &self.bootstrap)
            .field("chain_id", &self.chain_id)
            .field("max_block_bytes", &self.max_block_bytes)
            .field("max_tx_bytes", &self.max_tx_bytes)
            .field("max_tx_batch", &self.max_tx_batch)
            .field("max_tx_batch_bytes", &self.max_tx_batch_bytes)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_headers_per_request", &self.max_headers_per_request)
            .field("max_blocks_per_request", &self.max_blocks_per_request)
            .field("request_timeout", &self.request_timeout)
            .field("event_queue", &self.event_queue)
            .field("command_queue", &self.command_queue)
            .field("max_pending_requests", &self.max_pending_requests)
            .field("max_concurrent_serves", &self.max_concurrent_serves)
            .field("target_peers", &self.target_peers)
            .field("max_connections", &self.max_connections)
            .field("discovery_interval", &self.discovery_interval)
            .field("idle_timeout", &self.idle_timeout)
            .field("scoring", &self.scoring)
            .field("max_content_request_bytes", &self.max_content_request_bytes)
            .field(
                "max_content_response_bytes",
                &self.max_content_response_bytes,
            )
            .field("content_request_timeout", &self.content_request_timeout)
            .field(
                "max_concurrent_content_serves",
                &self.max_concurrent_content_serves,
            )
            .field("max_inbound_content_bytes", &self.max_inbound_content_bytes)
            .field(
                "max_pending_content_requests",
                &self.max_pending_content_requests,
            )
            .field("max_provided_keys", &self.max_provided_keys)
            .field(
                "max_remote_provider_records",
                &self.max_remote_provider_records,
            )
            .field(
                "max_provider_records_per_peer",
                &self.max_provider_records_per_peer,
            )
            .field("max_concurrent_publishes", &self.max_concurrent_publishes)
            .field("max_provider_queries", &self.max_provider_queries)
            .field("provider_query_timeout", &self.provider_query_timeout)
            .finish()
    }
}

impl NetworkConfig {
    /// A configuration with umbra's defaults for the given chain and identity,
    /// listening on `listen` and joining through `bootstrap`.
    pub fn new(
        chain_id: u64,
        secret: [u8; 32],
        listen: Multiaddr,
        bootstrap: Vec<Multiaddr>,
    ) -> Self {
        NetworkConfig {
            listen,
            secret,
            bootstrap,
            chain_id,
            max_block_bytes: DEFAULT_MAX_BLOCK_BYTES,
            max_tx_bytes: DEFAULT_MAX_TX_BYTES,
            max_tx_batch: 1024,
            // 1,024 transfers take ~200 KiB; the bound also caps what the
            // node's queue of gossiped batches can hold.
            max_tx_batch_bytes: 256 << 10,
            max_request_bytes: 64 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_headers_per_request: 512,
            max_blocks_per_request: 64,
            request_timeout: Duration::from_secs(20),
            event_queue: 1024,
            command_queue: 1024,
            max_pending_requests: 256,
            max_concurrent_serves: 16,
            target_peers: 25,
            max_connections: 100,
            discovery_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            scoring: crate::scoreboard::ScoreConfig::default(),
            max_content_request_bytes: DEFAULT_MAX_CONTENT_REQUEST_BYTES,
            max_content_response_bytes: DEFAULT_MAX_CONTENT_RESPONSE_BYTES,
            content_request_timeout: Duration::from_secs(30),
            max_concurrent_content_serves: 64,
            max_pending_content_requests: 512,
            max_inbound_content_bytes: 128 << 20,
            max_provided_keys: 65_536,
            max_remote_provider_records: 65_536,
            max_provider_records_per_peer: 16_384,
            max_concurrent_publishes: 16,
            max_provider_queries: 64,
            provider_query_timeout: Duration::from_secs(10),
        }
    }

    /// Checks the limits against each other, so a bad configuration fails at
    /// start instead of as a confusing runtime error.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let bad = |why: &str| Err(NetworkError::Config(why.to_string()));
        if self.max_tx_bytes == 0 || self.max_block_bytes == 0 {
            return bad("max_tx_bytes and max_block_bytes must be positive");
        }
        if self.max_tx_batch == 0
            || self.max_tx_batch_bytes < self.max_tx_bytes.saturating_add(TX_BATCH_PREFIX)
        {
            return bad("a transaction batch must hold at least one largest transaction");
        }
        if self.max_block_bytes > self.max_response_bytes {
            return bad("max_response_bytes must hold at least one max-size block");
        }
        if self.max_request_bytes < crate::sync::MIN_REQUEST_BYTES {
            return bad("max_request_bytes is too small for any sync request");
        }
        // Frame lengths travel as u32.
        if u32::try_from(self.max_response_bytes).is_err()
            || u32::try_from(self.max_request_bytes).is_err()
        {
            return bad("request and response limits must fit in 32 bits");
        }
        if self.event_queue == 0 || self.command_queue == 0 {
            return bad("event_queue and command_queue must be positive");
        }
        if self.max_pending_requests == 0 || self.max_concurrent_serves == 0 {
            return bad("max_pending_requests and max_concurrent_serves must be positive");
        }
        if self.max_headers_per_request == 0 || self.max_blocks_per_request == 0 {
            return bad("per-request caps must be positive");
        }
        if self.request_timeout.is_zero() || self.discovery_interval.is_zero() {
            return bad("request_timeout and discovery_interval must be positive");
        }
        if self.max_content_request_bytes < MIN_CONTENT_BYTES
            || self.max_content_response_bytes < MIN_CONTENT_BYTES
        {
            return bad("content request and response limits must be at least 1 KiB");
        }
        if u32::try_from(self.max_content_request_bytes).is_err()
            || u32::try_from(self.max_content_response_bytes).is_err()
        {
            return bad("content request and response limits must fit in 32 bits");
        }
        if self.max_inbound_content_bytes < self.max_content_request_bytes {
            return bad("max_inbound_content_bytes must hold at least one largest request");
        }
        if self.content_request_timeout.is_zero() || self.provider_query_timeout.is_zero() {
            return bad("content_request_timeout and provider_query_timeout must be positive");
        }
        if self.provider_query_timeout > Duration::from_secs(3600) {
            return bad("provider_query_timeout must be at most an hour");
        }
        if self.max_concurrent_content_serves == 0 || self.max_pending_content_requests == 0 {
            return bad(
                "max_concurrent_content_serves and max_pending_content_requests must be positive",
            );
        }
        if self.max_provided_keys == 0
            || self.max_concurrent_publishes == 0
            || self.max_provider_queries == 0
        {
            return bad(
                "max_provided_keys, max_concurrent_publishes and max_provider_queries must be positive",
            );
        }
        if self.max_provider_records_per_peer > self.max_remote_provider_records {
            return bad(
                "max_provider_records_per_peer must not exceed max_remote_provider_records",
            );
        }
        self.scoring.validate().map_err(NetworkError::Config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NetworkConfig {
        NetworkConfig::new(7, [1; 32], "/ip4/127.0.0.1/tcp/0".parse().unwrap(), vec![])
    }

    #[test]
    fn defaults_are_valid() {
        assert!(cfg().validate().is_ok());
        assert_eq!(cfg().max_block_bytes, 8 << 20);
        assert_eq!(cfg().max_tx_bytes, 64 << 10);
    }

    #[test]
    fn inconsistent_limits_are_refused() {
        let mut c = cfg();
        c.max_response_bytes = c.max_block_bytes - 1;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.event_queue = 0;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max_request_bytes = 1;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max_content_request_bytes = 100;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max_content_response_bytes = 1 << 33;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max_concurrent_content_serves = 0;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max_provider_records_per_peer = c.max_remote_provider_records + 1;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.content_request_timeout = Duration::ZERO;
        assert!(c.validate().is_err());
    }

    #[test]
    fn content_defaults() {
        let c = cfg();
        assert_eq!(c.max_content_request_bytes, 2560 << 10);
        assert_eq!(c.max_content_response_bytes, 2560 << 10);
        assert_eq!(c.content_request_timeout, Duration::from_secs(30));
        assert_eq!(c.max_concurrent_content_serves, 64);
        assert!(c.max_provided_keys >= 65_536);
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let mut c = cfg();
        c.secret = [0xab; 32];
        let shown = format!("{c:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("171"), "{shown}");
    }
}
