//! The sync protocol in the swarm: serving peers' requests from the
//! provider (on the blocking pool) and matching answers to our requests.

use super::Service;
use crate::error::NetworkError;
use crate::handle::Reply;
use crate::scoreboard::Offence;
use crate::sync::{SyncRequest, SyncResponse, response_matches, serve};
use libp2p::PeerId;
use libp2p::request_response::{self, Message, OutboundFailure, ResponseChannel};

/// One of our requests waiting for its answer.
pub(crate) struct Pending {
    pub peer: PeerId,
    pub request: SyncRequest,
    pub reply: Reply<SyncResponse>,
}

impl Service {
    pub(super) fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                Message::Request {
                    request, channel, ..
                } => self.serve_request(peer, request, channel),
                Message::Response {
                    request_id,
                    response,
                } => {
                    let Some(p) = self.pending.remove(&request_id) else {
                        return;
                    };
                    let result = if response_matches(&p.request, &response, self.sync_limits) {
                        Ok(response)
                    } else {
                        tracing::debug!(target: "umbra::network", %peer, "response does not answer the request");
                        self.penalise(peer, Offence::BadResponse);
                        Err(NetworkError::BadResponse(peer))
                    };
                    let _ = p.reply.send(result);
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let Some(p) = self.pending.remove(&request_id) else {
                    return;
                };
                let result = match error {
                    OutboundFailure::Timeout => NetworkError::Timeout(p.peer),
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
                let _ = p.reply.send(Err(result));
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(target: "umbra::network", %peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn serve_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        if self.serving >= self.max_serving {
            tracing::debug!(target: "umbra::network", %peer, "busy, refusing sync request");
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, SyncResponse::Busy);
            return;
        }
        self.serving += 1;
        let provider = self.provider.clone();
        let limits = self.sync_limits;
        let done = self.served_tx.clone();
        // The provider may read from disk: keep it off the swarm's thread.
        tokio::spawn(async move {
            let work =
                tokio::task::spawn_blocking(move || serve(provider.as_ref(), &request, limits));
            // A panicking provider must not take the node down with it.
            let response = work.await.unwrap_or(SyncResponse::Busy);
            // Capacity equals the number of serves in flight, so this never
            // waits; it fails only if the network is shutting down.
            let _ = done.send((channel, response)).await;
        });
    }

    pub(super) fn on_served(
        &mut self,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    ) {
        self.serving = self.serving.saturating_sub(1);
        // Fails only if the peer is gone or the request timed out.
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response);
    }
}
