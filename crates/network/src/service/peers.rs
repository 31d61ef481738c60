//! Connections, discovery (bootstrap, identify, Kademlia), bans and manual
//! blocks.

use super::Service;
use crate::event::NetworkEvent;
use crate::names;
use crate::scoreboard::Offence;
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, identify, kad};
use std::time::Instant;

/// Most addresses taken from one identify message: a peer could announce
/// thousands, and each would be a routing-table entry others dial.
const MAX_IDENTIFY_ADDRS: usize = 8;

impl Service {
    /// Dials the bootstrap peers and starts a Kademlia bootstrap through them.
    pub(super) fn join_bootstrap(&mut self) {
        for (peer, addr) in self.bootstrap.clone() {
            if self.is_blocked(&peer) || self.connected.contains_key(&peer) {
                continue;
            }
            self.swarm
                .behaviour_mut()
                .kad
                .add_address(&peer, addr.clone());
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(target: "umbra::network", %peer, error = %e, "bootstrap dial failed");
            }
        }
        // Errors only when the routing table is empty (no bootstrap peers):
        // the first node of a network has nobody to ask.
        let _ = self.swarm.behaviour_mut().kad.bootstrap();
    }

    /// Looks for more peers while below the target.
    pub(super) fn discover(&mut self) {
        if self.connected.len() >= self.target_peers {
            return;
        }
        if self.connected.is_empty() {
            self.join_bootstrap();
        } else {
            let _ = self.swarm.behaviour_mut().kad.bootstrap();
        }
    }

    pub(super) fn on_connection_event(
        &mut self,
        event: libp2p::swarm::SwarmEvent<crate::behaviour::BehaviourEvent>,
    ) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } if num_established.get() == 1 => {
                let addr = endpoint.get_remote_address().clone();
                tracing::debug!(target: "umbra::network", peer = %peer_id, %addr, "peer connected");
                self.connected.insert(peer_id, addr);
                self.events.emit(NetworkEvent::PeerConnected(peer_id));
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => self.on_peer_gone(peer_id),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(target: "umbra::network", %address, "listening");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(target: "umbra::network", peer = ?peer_id, %error, "dial failed");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(target: "umbra::network", %error, "listener error");
            }
            _ => {}
        }
    }

    /// The last connection to `peer` closed.
    fn on_peer_gone(&mut self, peer: PeerId) {
        if self.connected.remove(&peer).is_some() {
            tracing::debug!(target: "umbra::network", %peer, "peer disconnected");
            self.events.emit(NetworkEvent::PeerDisconnected(peer));
        }
    }

    pub(super) fn on_identify(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else {
            return;
        };
        let ours = names::identify_version(self.chain_id());
        if info.protocol_version != ours {
            // Another chain or an incompatible version: nothing to exchange.
            tracing::debug!(target: "umbra::network", peer = %peer_id, theirs = %info.protocol_version, "foreign peer, disconnecting");
            self.swarm.behaviour_mut().kad.remove_peer(&peer_id);
            let _ = self.swarm.disconnect_peer_id(peer_id);
            if self.foreign.len() >= super::MAX_FOREIGN {
                self.foreign.pop_first();
            }
            self.foreign.insert(peer_id);
            return;
        }
        // kad only learns a dialled peer's address by itself; for peers that
        // dialled us, the addresses they listen on come from identify.
        for addr in info.listen_addrs.into_iter().take(MAX_IDENTIFY_ADDRS) {
            self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
        }
    }

    pub(super) fn on_kad(&mut self, event: kad::Event) {
        match event {
            // A peer discovered through the DHT: connect while we want more.
            kad::Event::RoutingUpdated {
                peer, is_new_peer, ..
            } if is_new_peer
                && self.connected.len() < self.target_peers
                && !self.connected.contains_key(&peer)
                && !self.is_blocked(&peer)
                && !self.foreign.contains(&peer) =>
            {
                let opts = DialOpts::peer_id(peer)
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build();
                let _ = self.swarm.dial(opts);
            }
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::AddProvider {
                        record: Some(record),
                    },
            } => self.on_provider_record(record),
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => self.on_query_progress(id, result, step.last),
            _ => {}
        }
    }

    /// Whether `peer` is refused (banned or manually blocked).
    pub(super) fn is_blocked(&self, peer: &PeerId) -> bool {
        self.manual_blocks.contains_key(peer) || self.scoreboard.is_banned(peer)
    }

    /// Lowers a peer's score and bans it if that crosses the threshold.
    pub(super) fn penalise(&mut self, peer: PeerId, offence: Offence) {
        let now = Instant::now();
        if self.scoreboard.penalise(peer, offence, now) {
            tracing::warn!(target: "umbra::network", %peer, ?offence, "peer banned");
            // Blocking also closes its connections.
            self.swarm.behaviour_mut().blocked.block_peer(peer);
            self.events.emit(NetworkEvent::PeerBanned(peer));
        } else {
            tracing::debug!(target: "umbra::network", %peer, ?offence, score = self.scoreboard.score(&peer), "peer penalised");
        }
    }

    pub(super) fn block_manually(&mut self, peer: PeerId) {
        let addr = self
            .connected
            .get(&peer)
            .cloned()
            .or_else(|| self.bootstrap_addr(&peer));
        tracing::info!(target: "umbra::network", %peer, "peer blocked");
        self.manual_blocks.insert(peer, addr);
        self.swarm.behaviour_mut().blocked.block_peer(peer);
    }

    pub(super) fn unblock_manually(&mut self, peer: PeerId) {
        let Some(addr) = self.manual_blocks.remove(&peer) else {
            return;
        };
        tracing::info!(target: "umbra::network", %peer, "peer unblocked");
        if self.scoreboard.is_banned(&peer) {
            return;
        }
        self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        // The address we reached it on before the block (an inbound
        // connection's address is an ephemeral port, so prefer what kad
        // knows and only add ours as a fallback).
        let base = DialOpts::peer_id(peer).condition(PeerCondition::DisconnectedAndNotDialing);
        let opts = match self.bootstrap_addr(&peer).or(addr) {
            Some(addr) => base
                .addresses(vec![addr])
                .extend_addresses_through_behaviour()
                .build(),
            None => base.build(),
        };
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(target: "umbra::network", %peer, error = %e, "redial after unblock failed");
        }
    }

    fn bootstrap_addr(&self, peer: &PeerId) -> Option<Multiaddr> {
        self.bootstrap
            .iter()
            .find(|(p, _)| p == peer)
            .map(|(_, a)| a.clone())
    }
}
