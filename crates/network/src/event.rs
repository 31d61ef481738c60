//! What the network tells the node, and the bounded queue it goes through.

use libp2p::PeerId;
use libp2p::gossipsub::MessageId;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;
use umbra_types::{Block, Transaction};

/// An event for the node.
///
/// `Transactions` and `Block` are decoded but *not validated*: the node must
/// answer each with `NetworkHandle::report_validation(id, source, verdict)`;
/// only accepted messages are forwarded to other peers.
#[derive(Clone, Debug)]
pub enum NetworkEvent {
    /// One gossip message: a batch of transactions (never empty), judged
    /// as a whole.
    Transactions {
        /// The peer that forwarded it to us (whom a verdict applies to).
        source: PeerId,
        id: MessageId,
        txs: Vec<Transaction>,
    },
    Block {
        source: PeerId,
        id: MessageId,
        block: Box<Block>,
    },
    PeerConnected(PeerId),
    PeerDisconnected(PeerId),
    /// The peer's score fell below the threshold; it is disconnected and
    /// kept out for the ban duration.
    PeerBanned(PeerId),
}

/// The sending side of the event queue. Never waits: a full queue drops the
/// event (counted, logged) so a slow node cannot stall the swarm, which
/// would stall every peer connection with it.
#[derive(Debug)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<NetworkEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<NetworkEvent>, Arc<AtomicU64>) {
        let (tx, rx) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        (
            EventSink {
                tx,
                dropped: dropped.clone(),
            },
            rx,
            dropped,
        )
    }

    /// Delivers `event`; returns `false` if it was dropped.
    pub(crate) fn emit(&self, event: NetworkEvent) -> bool {
        match self.tx.try_send(event) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(event)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(target: "umbra::network", dropped_total = n, kind = kind(&event), "event queue full, event dropped");
                false
            }
            // The node dropped its receiver: nobody listens, nothing to do.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

fn kind(event: &NetworkEvent) -> &'static str {
    match event {
        NetworkEvent::Transactions { .. } => "transactions",
        NetworkEvent::Block { .. } => "block",
        NetworkEvent::PeerConnected(_) => "peer_connected",
        NetworkEvent::PeerDisconnected(_) => "peer_disconnected",
        NetworkEvent::PeerBanned(_) => "peer_banned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_and_counts() {
        let (sink, mut rx, dropped) = EventSink::new(2);
        let p = PeerId::random();
        assert!(sink.emit(NetworkEvent::PeerConnected(p)));
        assert!(sink.emit(NetworkEvent::PeerConnected(p)));
        assert!(!sink.emit(NetworkEvent::PeerConnected(p)));
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        assert!(rx.try_recv().is_ok());
        assert!(sink.emit(NetworkEvent::PeerDisconnected(p)));
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
    }
}
