//! Commands from `NetworkHandle`s.

use super::{Pending, Service};
use crate::error::NetworkError;
use crate::gossip::GossipKind;
use crate::handle::{Command, PeerInfo, Reply, Verdict};
use crate::scoreboard::Offence;
use libp2p::PeerId;
use libp2p::gossipsub::{MessageId, PublishError};
use std::time::Instant;

impl Service {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { kind, data, reply } => self.publish(kind, data, reply),
            Command::Validation {
                id,
                source,
                verdict,
            } => self.validation(id, source, verdict),
            Command::BadResponse { peer } => self.penalise(peer, Offence::BadResponse),
            Command::Request {
                peer,
                request,
                reply,
            } => self.send_request(peer, request, reply),
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_infos());
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Block { peer, reply } => {
                self.block_manually(peer);
                let _ = reply.send(());
            }
            Command::Unblock { peer, reply } => {
                self.unblock_manually(peer);
                let _ = reply.send(());
            }
            Command::Content {
                peer,
                request,
                reply,
            } => self.send_content_request(peer, request, reply),
            Command::StartProviding { key, reply } => self.start_providing(key, reply),
            Command::StopProviding { key, reply } => {
                self.stop_providing(key);
                let _ = reply.send(());
            }
            Command::Providers { key, reply } => self.providers(key, reply),
            Command::AddPeerAddress { peer, addr, reply } => {
                self.add_peer_address(peer, addr, reply)
            }
            // Handled by the run loop, which stops on it.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn publish(&mut self, kind: GossipKind, data: Vec<u8>, reply: Reply<MessageId>) {
        let topic = self.topics.topic(kind).clone();
        let result = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, data)
            .map_err(|e| match e {
                PublishError::NoPeersSubscribedToTopic => NetworkError::NoPeers,
                PublishError::Duplicate => NetworkError::Duplicate,
                PublishError::AllQueuesFull(_) => NetworkError::Busy("all peer queues full"),
                other => NetworkError::Publish(other.to_string()),
            });
        let _ = reply.send(result);
    }

    fn validation(&mut self, id: MessageId, source: PeerId, verdict: Verdict) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&id, &source, verdict.into());
        match verdict {
            Verdict::Accept => self.scoreboard.reward(source, Instant::now()),
            Verdict::Reject => self.penalise(source, Offence::Rejected),
            Verdict::Ignore => {}
        }
    }

    fn send_request(
        &mut self,
        peer: PeerId,
        request: crate::sync::SyncRequest,
        reply: Reply<crate::sync::SyncResponse>,
    ) {
        if self.is_blocked(&peer) {
            let _ = reply.send(Err(NetworkError::Blocked(peer)));
            return;
        }
        if self.pending.len() >= self.max_pending {
            let _ = reply.send(Err(NetworkError::Busy("too many pending requests")));
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, request.clone());
        self.pending.insert(
            id,
            Pending {
                peer,
                request,
                reply,
            },
        );
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let block_topic = self.topics.block.hash();
        let gossipsub = &self.swarm.behaviour().gossipsub;
        let gossiping: std::collections::BTreeSet<PeerId> = gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&&block_topic))
            .map(|(p, _)| *p)
            .collect();
        self.connected
            .iter()
            .map(|(id, addr)| PeerInfo {
                id: *id,
                addr: addr.clone(),
                score: self.scoreboard.score(id),
                gossip: gossiping.contains(id),
            })
            .collect()
    }
}
