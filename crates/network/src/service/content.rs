//! Content in the swarm: the block-transfer protocol (serving peers'
//! requests from the node's `ContentProvider` on the blocking pool, passing
//! answers to ours back) and the DHT's provider records (announcing what we
//! hold, looking up who holds a key, taking peers' records within bounds).

use super::Service;
use crate::content::{ContentRequest, ContentResponse, serve};
use crate::error::NetworkError;
use crate::handle::Reply;
use crate::scoreboard::Offence;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{GetProvidersOk, ProviderRecord, QueryId, QueryResult, RecordKey};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, Message, OutboundFailure, ResponseChannel};
use libp2p::{Multiaddr, PeerId};
use std::collections::BTreeSet;
use umbra_types::Hash;

/// Most providers one look-up returns.
pub(crate) const MAX_PROVIDERS_FOUND: usize = 64;
/// Most look-ups waiting for their turn; beyond it `providers` is `Busy`.
pub(crate) const MAX_QUEUED_LOOKUPS: usize = 4096;
/// Most addresses kept from a peer's provider record, and the longest.
const MAX_RECORD_ADDRS: usize = 4;
const MAX_ADDR_BYTES: usize = 128;

/// One of our content requests waiting for its answer.
pub(crate) struct ContentPending {
    pub reply: Reply<ContentResponse>,
}

/// A `providers` look-up, running or waiting to run.
pub(crate) struct Lookup {
    pub key: Hash,
    pub found: BTreeSet<PeerId>,
    pub reply: Reply<Vec<PeerId>>,
    /// When it must answer, counted from when it was asked.
    pub deadline: tokio::time::Instant,
}

fn record_key(key: &Hash) -> RecordKey {
    RecordKey::new(&key.0)
}

impl Service {
    pub(super) fn on_content(
        &mut self,
        event: request_response::Event<ContentRequest, ContentResponse>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                Message::Request {
                    request, channel, ..
                } => self.serve_content(peer, request, channel),
                Message::Response {
                    request_id,
                    response,
                } => {
                    // The handle checks the answer against the request (a
                    // block must be hashed: not on this task).
                    if let Some(p) = self.content_pending.remove(&request_id) {
                        let _ = p.reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let Some(p) = self.content_pending.remove(&request_id) else {
                    return;
                };
                let error = match error {
                    OutboundFailure::Timeout => NetworkError::Timeout(peer),
                    // A frame over the limit or that does not decode.
                    OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        self.penalise(peer, Offence::BadResponse);
                        NetworkError::BadResponse(peer)
                    }
                    other => NetworkError::Request {
                        peer,
                        reason: other.to_string(),
                    },
                };
                let _ = p.reply.send(Err(error));
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(target: "umbra::network", %peer, %error, "inbound content request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    pub(super) fn send_content_request(
        &mut self,
        peer: PeerId,
        request: ContentRequest,
        reply: Reply<ContentResponse>,
    ) {
        if self.is_blocked(&peer) {
            let _ = reply.send(Err(NetworkError::Blocked(peer)));
            return;
        }
        if peer == self.local_peer_id {
            let _ = reply.send(Err(NetworkError::Request {
                peer,
                reason: "a node does not send requests to itself".into(),
            }));
            return;
        }
        if self.content_pending.len() >= self.max_content_pending {
            let _ = reply.send(Err(NetworkError::Busy("too many pending content requests")));
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .content
            .send_request(&peer, request);
        self.content_pending.insert(id, ContentPending { reply });
    }

    fn serve_content(
        &mut self,
        peer: PeerId,
        request: ContentRequest,
        channel: ResponseChannel<ContentResponse>,
    ) {
        let Some(provider) = self.content.clone() else {
            let answer = serve(None, peer, request, self.max_content_response_bytes);
            let _ = self
                .swarm
                .behaviour_mut()
                .content
                .send_response(channel, answer);
            return;
        };
        if self.content_serving >= self.max_content_serving {
            tracing::debug!(target: "umbra::network", %peer, "busy, refusing content request");
            let _ = self
                .swarm
                .behaviour_mut()
                .content
                .send_response(channel, ContentResponse::Busy);
            return;
        }
        self.content_serving += 1;
        let limit = self.max_content_response_bytes;
        let done = self.content_served_tx.clone();
        // The provider may touch the disk: keep it off the swarm's thread.
        tokio::spawn(async move {
            let work = tokio::task::spawn_blocking(move || {
                serve(Some(provider.as_ref()), peer, request, limit)
            });
            // A panicking provider must not take the node down with it.
            let response = work
                .await
                .unwrap_or_else(|_| crate::content::refused("internal error"));
            // Capacity equals the number of serves in flight, so this never
            // waits; it fails only if the network is shutting down.
            let _ = done.send((channel, response)).await;
        });
    }

    pub(super) fn on_content_served(
        &mut self,
        channel: ResponseChannel<ContentResponse>,
        response: ContentResponse,
    ) {
        self.content_serving = self.content_serving.saturating_sub(1);
        // Fails only if the peer is gone or the request timed out.
        let _ = self
            .swarm
            .behaviour_mut()
            .content
            .send_response(channel, response);
    }

    // --- provider records ---------------------------------------------------

    pub(super) fn start_providing(&mut self, key: Hash, reply: Reply<()>) {
        let rkey = record_key(&key);
        let record = ProviderRecord::new(rkey.clone(), self.local_peer_id, Vec::new());
        let kad = &mut self.swarm.behaviour_mut().kad;
        if let Err(e) = kad.store_mut().add_provider(record) {
            tracing::debug!(target: "umbra::network", %key, error = %e, "cannot provide");
            let _ = reply.send(Err(NetworkError::Busy("this node provides too many keys")));
            return;
        }
        let _ = reply.send(Ok(()));
        if self.publish_queue.len() >= self.max_publish_queue {
            // Still provided (peers asking us find it); Kademlia's periodic
            // republication announces it later.
            tracing::debug!(target: "umbra::network", %key, "announcement queue full, announcing later");
            return;
        }
        self.publish_queue.push_back(rkey);
        self.publish_next();
    }

    pub(super) fn stop_providing(&mut self, key: Hash) {
        // A queued announcement is skipped when its turn comes.
        self.swarm
            .behaviour_mut()
            .kad
            .stop_providing(&record_key(&key));
    }

    /// Starts queued announcements while fewer than the limit run.
    fn publish_next(&mut self) {
        while self.publishing.len() < self.max_publishing {
            let Some(key) = self.publish_queue.pop_front() else {
                return;
            };
            let kad = &mut self.swarm.behaviour_mut().kad;
            let local = self.local_peer_id;
            let still = kad
                .store_mut()
                .providers(&key)
                .iter()
                .any(|p| p.provider == local);
            if !still {
                continue;
            }
            match kad.start_providing(key) {
                Ok(id) => {
                    self.publishing.insert(id);
                }
                Err(e) => {
                    tracing::debug!(target: "umbra::network", error = %e, "announcement not started");
                }
            }
        }
    }

    pub(super) fn providers(&mut self, key: Hash, reply: Reply<Vec<PeerId>>) {
        if self.lookup_queue.len() >= MAX_QUEUED_LOOKUPS {
            let _ = reply.send(Err(NetworkError::Busy("too many provider look-ups")));
            return;
        }
        let deadline = tokio::time::Instant::now() + self.provider_query_timeout;
        self.lookup_queue.push_back(Lookup {
            key,
            found: BTreeSet::new(),
            reply,
            deadline,
        });
        self.lookup_next();
    }

    /// Starts queued look-ups while fewer than the limit run.
    fn lookup_next(&mut self) {
        while self.lookups.len() < self.max_lookups {
            let Some(lookup) = self.lookup_queue.pop_front() else {
                return;
            };
            if lookup.reply.is_closed() {
                continue; // the caller gave up
            }
            if lookup.deadline <= tokio::time::Instant::now() {
                let _ = lookup
                    .reply
                    .send(Err(NetworkError::Busy("provider look-up waited too long")));
                continue;
            }
            let id = self
                .swarm
                .behaviour_mut()
                .kad
                .get_providers(record_key(&lookup.key));
            self.lookups.insert(id, lookup);
        }
    }

    /// Answers a look-up with what it found and frees its slot.
    fn finish_lookup(&mut self, id: QueryId) {
        let Some(lookup) = self.lookups.remove(&id) else {
            return;
        };
        if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
            query.finish();
        }
        let _ = lookup.reply.send(Ok(lookup.found.into_iter().collect()));
        self.lookup_next();
    }

    /// Answers the look-ups whose time is up (with what they found), and
    /// drops waiting ones whose caller gave up. Runs on the service tick, so
    /// a look-up may run up to a tick past its deadline.
    pub(super) fn expire_lookups(&mut self) {
        let now = tokio::time::Instant::now();
        let due: Vec<QueryId> = self
            .lookups
            .iter()
            .filter(|(_, l)| l.deadline <= now || l.reply.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.finish_lookup(id);
        }
        self.lookup_queue.retain(|l| !l.reply.is_closed());
    }

    /// A step of one of our DHT queries.
    pub(super) fn on_query_progress(&mut self, id: QueryId, result: QueryResult, last: bool) {
        match result {
            QueryResult::GetProviders(result) => {
                let local = self.local_peer_id;
                let Some(lookup) = self.lookups.get_mut(&id) else {
                    return;
                };
                if let Ok(GetProvidersOk::FoundProviders { providers, .. }) = result {
                    for p in providers.into_iter().filter(|p| *p != local) {
                        if lookup.found.len() >= MAX_PROVIDERS_FOUND {
                            break;
                        }
                        lookup.found.insert(p);
                    }
                }
                // Errors are timeouts: answer with what was found.
                if last || lookup.found.len() >= MAX_PROVIDERS_FOUND {
                    self.finish_lookup(id);
                }
            }
            QueryResult::StartProviding(result) if last && self.publishing.remove(&id) => {
                if let Err(e) = result {
                    tracing::debug!(target: "umbra::network", error = %e, "provider announcement incomplete");
                }
                self.publish_next();
            }
            _ => {}
        }
    }

    /// A peer announced it provides a key. kad has checked the record names
    /// the sender as provider; we keep it if the sender is in good standing,
    /// the key is a hash, and the sender is within its share of our store.
    pub(super) fn on_provider_record(&mut self, mut record: ProviderRecord) {
        let peer = record.provider;
        if self.is_blocked(&peer) || self.foreign.contains(&peer) {
            return;
        }
        if record.key.as_ref().len() != 32 {
            tracing::debug!(target: "umbra::network", %peer, "provider record for a key that is not a hash");
            return;
        }
        record
            .addresses
            .retain(|a| a.len() <= MAX_ADDR_BYTES && a.iter().count() <= 8);
        record.addresses.truncate(MAX_RECORD_ADDRS);
        if let Err(e) = self
            .swarm
            .behaviour_mut()
            .kad
            .store_mut()
            .add_provider(record)
        {
            tracing::debug!(target: "umbra::network", %peer, error = %e, "provider record not kept");
        }
    }

    pub(super) fn add_peer_address(&mut self, peer: PeerId, addr: Multiaddr, reply: Reply<()>) {
        if let Some(Protocol::P2p(id)) = addr.iter().last()
            && id != peer
        {
            let _ = reply.send(Err(NetworkError::Config(format!(
                "address {addr} belongs to {id}, not {peer}"
            ))));
            return;
        }
        if peer == self.local_peer_id {
            let _ = reply.send(Ok(()));
            return;
        }
        // The swarm passes it to every behaviour (request-response keeps
        // it for dialling); kad puts it in the routing table.
        self.swarm.add_peer_address(peer, addr.clone());
        self.swarm.behaviour_mut().kad.add_address(&peer, addr);
        let _ = reply.send(Ok(()));
    }

    /// Fails everything still waiting, as the network stops.
    pub(super) fn close_content(&mut self) {
        for (_, p) in self.content_pending.drain() {
            let _ = p.reply.send(Err(NetworkError::Closed));
        }
        for (_, l) in self.lookups.drain() {
            let _ = l.reply.send(Err(NetworkError::Closed));
        }
        for l in self.lookup_queue.drain(..) {
            let _ = l.reply.send(Err(NetworkError::Closed));
        }
    }
}
