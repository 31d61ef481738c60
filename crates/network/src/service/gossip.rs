//! Received gossip: decode, then hand to the node for its verdict.

use super::Service;
use crate::event::NetworkEvent;
use crate::gossip::{Payload, decode_payload};
use crate::scoreboard::Offence;
use libp2p::gossipsub::{self, MessageAcceptance};

impl Service {
    pub(super) fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source: source,
            message_id: id,
            message,
        } = event
        else {
            return;
        };
        let Some(kind) = self.topics.kind(&message.topic) else {
            // A topic we never subscribed to: not ours to judge.
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&id, &source, MessageAcceptance::Ignore);
            return;
        };
        let payload = match decode_payload(kind, &message.data, self.payload_limits) {
            Ok(payload) => payload,
            Err(error) => {
                // Honest peers only forward what decoded and was accepted,
                // so undecodable bytes are the sender's own doing.
                tracing::debug!(target: "umbra::network", peer = %source, ?kind, %error, "undecodable gossip");
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&id, &source, MessageAcceptance::Reject);
                self.penalise(source, Offence::Undecodable);
                return;
            }
        };
        let event = match payload {
            Payload::Txs(txs) => NetworkEvent::Transactions {
                source,
                id: id.clone(),
                txs,
            },
            Payload::Block(block) => NetworkEvent::Block {
                source,
                id: id.clone(),
                block,
            },
        };
        if !self.events.emit(event) {
            // The node will never judge it: free it from the validation
            // cache now instead of holding it until it expires.
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&id, &source, MessageAcceptance::Ignore);
        }
    }
}
