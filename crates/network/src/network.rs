//! Starting a node's network: identity, transport, behaviour, listening,
//! then the swarm task on tokio.

use crate::behaviour;
use crate::config::NetworkConfig;
use crate::content::ContentProvider;
use crate::error::NetworkError;
use crate::event::{EventSink, NetworkEvent};
use crate::gossip::Topics;
use crate::handle::NetworkHandle;
use crate::service::{Service, ServiceParts};
use crate::sync::SyncProvider;
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, SwarmBuilder, identity, noise, tcp, yamux};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long `start` waits for the listener to come up.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Entry point of the crate.
pub struct Network;

impl Network {
    /// Starts the network task. Returns once the node listens (so a bad
    /// listen address is an error here, and `listen_addrs` is filled), with
    /// the handle and the receiver of events for the node.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// The node stores no content: peers' content requests are answered
    /// `Refused("not a storage node")`. It can still fetch content and look
    /// up providers.
    pub async fn start(
        cfg: NetworkConfig,
        provider: Arc<dyn SyncProvider>,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
        Self::start_with_content(cfg, provider, None).await
    }

    /// Like [`Network::start`], with the content provider that answers
    /// peers' content requests (`None`: refuse them all, as `start` does).
    pub async fn start_with_content(
        cfg: NetworkConfig,
        provider: Arc<dyn SyncProvider>,
        content: Option<Arc<dyn ContentProvider>>,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
        cfg.validate()?;
        let bootstrap = cfg
            .bootstrap
            .iter()
            .map(|addr| split_peer(addr).map(|peer| (peer, addr.clone())))
            .collect::<Result<Vec<_>, _>>()?;

        let mut seed = cfg.secret;
        // `ed25519_from_bytes` zeroes the buffer it is given: that is our copy.
        let key = identity::Keypair::ed25519_from_bytes(&mut seed)
            .map_err(|e| NetworkError::Identity(e.to_string()))?;
        let local_peer_id = key.public().to_peer_id();
        let topics = Topics::new(cfg.chain_id);
        let behaviour = behaviour::build(&key, &cfg, &topics)?;

        let Ok(builder) = SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::new().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| NetworkError::Transport(e.to_string()))?
            .with_behaviour(|_| behaviour);
        let idle = cfg.idle_timeout;
        let mut swarm = builder
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .build();

        listen(&mut swarm, &cfg.listen).await?;

        let (events, events_rx, dropped_events) = EventSink::new(cfg.event_queue);
        let (commands_tx, commands) = mpsc::channel(cfg.command_queue);
        let handle = NetworkHandle {
            commands: commands_tx,
            local_peer_id,
            dropped_events,
            request_timeout: cfg.request_timeout,
            payload_limits: crate::gossip::PayloadLimits::from(&cfg),
            max_block_bytes: cfg.max_block_bytes,
            content_request_timeout: cfg.content_request_timeout,
            provider_query_timeout: cfg.provider_query_timeout,
            max_content_request_bytes: cfg.max_content_request_bytes,
        };
        let service = Service::new(
            &cfg,
            ServiceParts {
                swarm,
                topics,
                events,
                commands,
                provider,
                content,
                bootstrap,
                local_peer_id,
            },
        );
        tracing::info!(target: "umbra::network", peer = %local_peer_id, chain = cfg.chain_id, "network started");
        tokio::spawn(service.run());
        Ok((handle, events_rx))
    }
}

/// Starts listening and waits for the first address (or the failure).
async fn listen<B: libp2p::swarm::NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    addr: &Multiaddr,
) -> Result<(), NetworkError> {
    let fail = |reason: String| NetworkError::Listen {
        addr: addr.to_string(),
        reason,
    };
    swarm
        .listen_on(addr.clone())
        .map_err(|e| fail(e.to_string()))?;
    let wait = async {
        loop {
            // Nothing is connected yet, so only listener events can come.
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { .. } => return Ok(()),
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(fail(format!("listener closed: {reason:?}")));
                }
                SwarmEvent::ListenerError { error, .. } => return Err(fail(error.to_string())),
                _ => {}
            }
        }
    };
    tokio::time::timeout(LISTEN_TIMEOUT, wait)
        .await
        .map_err(|_| fail("timed out waiting for the listener".into()))?
}

/// The peer id a node with identity seed `secret` will have, so a launcher
/// can hand every node the others' bootstrap addresses before any starts.
pub fn peer_id_from_secret(secret: [u8; 32]) -> Result<PeerId, NetworkError> {
    let mut seed = secret;
    identity::Keypair::ed25519_from_bytes(&mut seed)
        .map(|k| k.public().to_peer_id())
        .map_err(|e| NetworkError::Identity(e.to_string()))
}

/// `addr` with `/p2p/<peer>` appended (unless it already ends with a peer
/// id): the form bootstrap addresses take.
pub fn peer_addr(addr: &Multiaddr, peer: PeerId) -> Multiaddr {
    match addr.iter().last() {
        Some(Protocol::P2p(_)) => addr.clone(),
        _ => addr.clone().with(Protocol::P2p(peer)),
    }
}

/// The peer id at the end of a bootstrap address (`…/p2p/<id>`).
fn split_peer(addr: &Multiaddr) -> Result<PeerId, NetworkError> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Ok(peer),
        _ => Err(NetworkError::Config(format!(
            "bootstrap address {addr} must end with /p2p/<peer id>"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_addresses_need_a_peer_id() {
        let peer = PeerId::random();
        let with: Multiaddr = format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}").parse().unwrap();
        assert_eq!(split_peer(&with).unwrap(), peer);
        let without: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        assert!(split_peer(&without).is_err());
        assert_eq!(peer_addr(&without, peer), with);
        assert_eq!(peer_addr(&with, PeerId::random()), with);
    }
}
