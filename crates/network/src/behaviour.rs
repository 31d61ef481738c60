//! The composed libp2p behaviour: which protocols a node speaks and how each
//! is configured. Construction only; the events are handled in `service`.

use crate::codec::{ContentCodec, InboundBudget, SyncCodec};
use crate::config::NetworkConfig;
use crate::error::NetworkError;
use crate::gossip::{self, Topics};
use crate::names;
use crate::store::{ProviderLimits, ProviderStore};
use libp2p::identity::Keypair;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, connection_limits, gossipsub, identify, kad, request_response};
use std::time::Duration;

/// Most connections being set up at once, each way; the rest wait or fail,
/// so a burst of dials cannot exhaust file descriptors.
const MAX_PENDING_CONNECTIONS: u32 = 32;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Bans and manual blocks: refuses and closes connections to listed peers.
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub limits: connection_limits::Behaviour,
    pub identify: identify::Behaviour,
    pub kad: kad::Behaviour<ProviderStore>,
    pub gossipsub: gossipsub::Behaviour,
    pub sync: request_response::Behaviour<SyncCodec>,
    pub content: request_response::Behaviour<ContentCodec>,
}

pub(crate) fn build(
    key: &Keypair,
    cfg: &NetworkConfig,
    topics: &Topics,
) -> Result<Behaviour, NetworkError> {
    let peer_id = key.public().to_peer_id();

    let identify = identify::Behaviour::new(
        identify::Config::new(names::identify_version(cfg.chain_id), key.public())
            .with_agent_version(format!("umbra/{}", env!("CARGO_PKG_VERSION"))),
    );

    let mut kad_cfg = kad::Config::new(names::kad_protocol(cfg.chain_id));
    // Any peer could otherwise write records into our store. umbra keeps no
    // values in the DHT (a peer's `PutRecord` is dropped) and stores a
    // peer's provider records only after `service` has checked them, within
    // the per-peer and total bounds of `ProviderStore`.
    kad_cfg.set_record_filtering(kad::StoreInserts::FilterBoth);
    kad_cfg.set_query_timeout(Duration::from_secs(30));
    let store = ProviderStore::new(
        peer_id,
        ProviderLimits {
            local_keys: cfg.max_provided_keys,
            remote_records: cfg.max_remote_provider_records,
            per_peer: cfg.max_provider_records_per_peer,
        },
    );
    let mut kad = kad::Behaviour::with_config(peer_id, store, kad_cfg);
    // Without a confirmed external address kad stays a client and peers
    // never learn about us from each other; nodes are servers by design.
    kad.set_mode(Some(kad::Mode::Server));

    let mut gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip::config(cfg, topics)?,
    )
    .map_err(|e| NetworkError::Config(format!("gossipsub: {e}")))?;
    for topic in [&topics.tx, &topics.block] {
        gossipsub
            .subscribe(topic)
            .map_err(|e| NetworkError::Config(format!("gossipsub subscribe: {e}")))?;
    }

    let codec = SyncCodec {
        max_request_bytes: cfg.max_request_bytes,
        max_response_bytes: cfg.max_response_bytes,
    };
    let sync = request_response::Behaviour::with_codec(
        codec,
        [(
            names::sync_protocol(cfg.chain_id),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default()
            .with_request_timeout(cfg.request_timeout)
            .with_max_concurrent_streams(cfg.max_concurrent_serves.saturating_mul(2)),
    );

    let content = request_response::Behaviour::with_codec(
        ContentCodec {
            max_request_bytes: cfg.max_content_request_bytes,
            max_response_bytes: cfg.max_content_response_bytes,
            inbound: InboundBudget::new(cfg.max_inbound_content_bytes),
        },
        [(
            names::content_protocol(cfg.chain_id),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default()
            .with_request_timeout(cfg.content_request_timeout)
            // Per connection, inbound and outbound together. Room for every
            // request of ours and more inbound ones than we serve at once,
            // so the excess is answered `Busy` rather than dropped.
            .with_max_concurrent_streams(
                cfg.max_concurrent_content_serves
                    .saturating_mul(2)
                    .saturating_add(cfg.max_pending_content_requests),
            ),
    );

    let limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(MAX_PENDING_CONNECTIONS))
        .with_max_pending_outgoing(Some(MAX_PENDING_CONNECTIONS))
        .with_max_established(Some(cfg.max_connections))
        .with_max_established_per_peer(Some(2));

    Ok(Behaviour {
        blocked: allow_block_list::Behaviour::default(),
        limits: connection_limits::Behaviour::new(limits),
        identify,
        kad,
        gossipsub,
        sync,
        content,
    })
}
