//! `NetworkHandle`: the node's side of the network. Each call becomes a
//! command on a bounded queue to the swarm task (the task owns the swarm;
//! nothing else touches it), and most wait for the task's answer.

use crate::content::{ContentRequest, ContentResponse, Expected, MAX_HAS_IDS, encoded_len};
use crate::error::NetworkError;
use crate::gossip::{GossipKind, PayloadLimits, encode_tx_batches};
use crate::sync::{ChainStatus, SyncRequest, SyncResponse};
use libp2p::gossipsub::{MessageAcceptance, MessageId};
use libp2p::{Multiaddr, PeerId};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use umbra_types::{Block, Hash, Header, Height, Transaction, encode};

/// The node's verdict on a gossiped transaction or block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it to other peers.
    Accept,
    /// Invalid: drop it and penalise the peer that sent it.
    Reject,
    /// Not useful (duplicate, too old, can't tell yet): drop it, no penalty.
    Ignore,
}

impl From<Verdict> for MessageAcceptance {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Reject => MessageAcceptance::Reject,
            Verdict::Ignore => MessageAcceptance::Ignore,
        }
    }
}

/// A connected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: PeerId,
    /// Remote address of (one of) our connections to it.
    pub addr: Multiaddr,
    pub score: i32,
    /// Whether it subscribes to our chain's block topic (so gossip reaches it).
    pub gossip: bool,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, NetworkError>>;

/// A request from a handle to the swarm task.
pub(crate) enum Command {
    Publish {
        kind: GossipKind,
        data: Vec<u8>,
        reply: Reply<MessageId>,
    },
    Validation {
        id: MessageId,
        source: PeerId,
        verdict: Verdict,
    },
    BadResponse {
        peer: PeerId,
    },
    Request {
        peer: PeerId,
        request: SyncRequest,
        reply: Reply<SyncResponse>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    Block {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    Unblock {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    Content {
        peer: PeerId,
        request: ContentRequest,
        reply: Reply<ContentResponse>,
    },
    StartProviding {
        key: Hash,
        reply: Reply<()>,
    },
    StopProviding {
        key: Hash,
        reply: oneshot::Sender<()>,
    },
    Providers {
        key: Hash,
        reply: Reply<Vec<PeerId>>,
    },
    AddPeerAddress {
        peer: PeerId,
        addr: Multiaddr,
        reply: Reply<()>,
    },
}

/// Cloneable handle to a running network. Dropping every handle stops the
/// network task, as does `shutdown`.
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) local_peer_id: PeerId,
    pub(crate) dropped_events: Arc<AtomicU64>,
    pub(crate) request_timeout: Duration,
    pub(crate) payload_limits: PayloadLimits,
    pub(crate) max_block_bytes: usize,
    pub(crate) content_request_timeout: Duration,
    pub(crate) provider_query_timeout: Duration,
    pub(crate) max_content_request_bytes: usize,
}

// Room beyond the protocol's own request timeout, so the protocol's precise
// error (timeout, dial failure) normally wins over this safety net.
const REQUEST_GRACE: Duration = Duration::from_secs(5);

impl NetworkHandle {
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Events dropped so far because the node's event queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events.load(Ordering::Relaxed)
    }

    /// Gossips a transaction (a batch of one). Fails with `NoPeers` when no
    /// connected peer subscribes yet, `Duplicate` if the same bytes were
    /// published recently, `TooLarge` over `max_tx_bytes`.
    pub async fn publish_tx(&self, tx: &Transaction) -> Result<MessageId, NetworkError> {
        let mut ids = self.publish_txs(std::slice::from_ref(tx)).await?;
        ids.pop().ok_or(NetworkError::TooLarge {
            size: encode(tx).len(),
            limit: self.payload_limits.max_tx_bytes,
        })
    }

    /// Gossips transactions in as few messages as the batch limits allow,
    /// in order. Transactions over `max_tx_bytes` are skipped. Every batch
    /// is tried (one refused as a duplicate does not hold back the others);
    /// if any failed, the first error is returned.
    pub async fn publish_txs(&self, txs: &[Transaction]) -> Result<Vec<MessageId>, NetworkError> {
        let encoded: Vec<Vec<u8>> = txs.iter().map(encode).collect();
        let (batches, too_large) = encode_tx_batches(&encoded, self.payload_limits);
        if !too_large.is_empty() {
            tracing::debug!(target: "umbra::network", skipped = too_large.len(), "transactions over max_tx_bytes not gossiped");
        }
        let mut ids = Vec::with_capacity(batches.len());
        let mut first_error = None;
        for data in batches {
            match self
                .call(|reply| Command::Publish {
                    kind: GossipKind::Tx,
                    data,
                    reply,
                })
                .await
            {
                Ok(id) => ids.push(id),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(ids),
        }
    }

    /// Gossips a block (see `publish_tx`).
    pub async fn publish_block(&self, block: &Block) -> Result<MessageId, NetworkError> {
        self.publish(GossipKind::Block, encode(block), self.max_block_bytes)
            .await
    }

    /// Publishes arbitrary bytes on a topic, bypassing encoding: for tests
    /// that play a misbehaving peer.
    #[cfg(feature = "test-util")]
    pub async fn publish_raw(
        &self,
        kind: GossipKind,
        data: Vec<u8>,
    ) -> Result<MessageId, NetworkError> {
        self.call(|reply| Command::Publish { kind, data, reply })
            .await
    }

    async fn publish(
        &self,
        kind: GossipKind,
        data: Vec<u8>,
        limit: usize,
    ) -> Result<MessageId, NetworkError> {
        if data.len() > limit {
            return Err(NetworkError::TooLarge {
                size: data.len(),
                limit,
            });
        }
        self.call(|reply| Command::Publish { kind, data, reply })
            .await
    }

    /// Tells the network what the node thinks of a gossiped message: accepted
    /// messages are forwarded, rejected ones cost `source` score. Never
    /// waits; fails with `Busy` if the command queue is full (the message
    /// then simply expires unforwarded).
    pub fn report_validation(
        &self,
        id: MessageId,
        source: PeerId,
        verdict: Verdict,
    ) -> Result<(), NetworkError> {
        self.try_command(Command::Validation {
            id,
            source,
            verdict,
        })
    }

    /// Reports that a peer's sync answer was wrong in a way only the node can
    /// see (for example headers that do not chain); costs the peer score.
    pub fn report_bad_response(&self, peer: PeerId) -> Result<(), NetworkError> {
        self.try_command(Command::BadResponse { peer })
    }

    /// Sends a sync request and waits for the answer (bounded by the
    /// configured request timeout).
    pub async fn request(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, NetworkError> {
        let call = self.call(|reply| Command::Request {
            peer,
            request,
            reply,
        });
        match tokio::time::timeout(self.request_timeout.saturating_add(REQUEST_GRACE), call).await {
            Ok(result) => result,
            Err(_) => Err(NetworkError::Timeout(peer)),
        }
    }

    pub async fn status(&self, peer: PeerId) -> Result<ChainStatus, NetworkError> {
        match self.request(peer, SyncRequest::Status).await? {
            SyncResponse::Status(s) => Ok(s),
            other => unexpected(peer, &other),
        }
    }

    pub async fn headers(
        &self,
        peer: PeerId,
        from: Height,
        max: u32,
    ) -> Result<Vec<Header>, NetworkError> {
        match self
            .request(peer, SyncRequest::Headers { from, max })
            .await?
        {
            SyncResponse::Headers(h) => Ok(h),
            other => unexpected(peer, &other),
        }
    }

    pub async fn blocks(
        &self,
        peer: PeerId,
        from: Height,
        max: u32,
    ) -> Result<Vec<Block>, NetworkError> {
        match self
            .request(peer, SyncRequest::Blocks { from, max })
            .await?
        {
            SyncResponse::Blocks(b) => Ok(b),
            other => unexpected(peer, &other),
        }
    }

    pub async fn block_by_hash(
        &self,
        peer: PeerId,
        hash: Hash,
    ) -> Result<Option<Block>, NetworkError> {
        match self.request(peer, SyncRequest::BlockByHash(hash)).await? {
            SyncResponse::Block(b) => Ok(b.map(|b| *b)),
            other => unexpected(peer, &other),
        }
    }

    /// Sends a content request and waits for the answer (bounded by
    /// `content_request_timeout`). Dials `peer` if not connected (its
    /// address must be known: from the DHT, or `add_peer_address`).
    ///
    /// The answer is checked against the request (see
    /// [`crate::content::response_matches`]; a block is hashed, on the
    /// caller's task): one that does not answer it costs the peer score and
    /// is returned as `BadResponse`. `Busy` and `Refused` come back as
    /// answers. A request over `max_content_request_bytes` fails with
    /// `TooLarge` before anything is sent.
    pub async fn content_request(
        &self,
        peer: PeerId,
        request: ContentRequest,
    ) -> Result<ContentResponse, NetworkError> {
        let size = encoded_len(&request);
        if size > self.max_content_request_bytes {
            return Err(NetworkError::TooLarge {
                size,
                limit: self.max_content_request_bytes,
            });
        }
        if let ContentRequest::HasBlocks { ids } = &request
            && ids.len() > MAX_HAS_IDS
        {
            return Err(NetworkError::TooLarge {
                size: ids.len(),
                limit: MAX_HAS_IDS,
            });
        }
        let expected = Expected::of(&request);
        let call = self.call(|reply| Command::Content {
            peer,
            request,
            reply,
        });
        let limit = self.content_request_timeout.saturating_add(REQUEST_GRACE);
        let response = match tokio::time::timeout(limit, call).await {
            Ok(result) => result?,
            Err(_) => return Err(NetworkError::Timeout(peer)),
        };
        if expected.matches(&response) {
            Ok(response)
        } else {
            tracing::debug!(target: "umbra::network", %peer, "content answer does not match the request");
            // Best effort: a full command queue only spares the peer.
            let _ = self.try_command(Command::BadResponse { peer });
            Err(NetworkError::BadResponse(peer))
        }
    }

    /// Announces in the DHT that this node provides `key` (a provider record
    /// under the 32 hash bytes). Returns once the record is kept locally
    /// (peers asking us find it at once); the announcement to the peers
    /// closest to the key runs in the background, a bounded number at a
    /// time, and is repeated by Kademlia until `stop_providing`. Fails with
    /// `Busy` when this node already provides `max_provided_keys` keys.
    pub async fn start_providing(&self, key: Hash) -> Result<(), NetworkError> {
        self.call(|reply| Command::StartProviding { key, reply })
            .await
    }

    /// Stops announcing `key`. Peers that hold our record keep it until it
    /// expires.
    pub async fn stop_providing(&self, key: Hash) -> Result<(), NetworkError> {
        self.ask(|reply| Command::StopProviding { key, reply })
            .await
    }

    /// Peers that announced they provide `key`, found through the DHT
    /// (without duplicates, without this node, at most 64). Collects until
    /// the look-up ends or `provider_query_timeout` passes, then returns
    /// what it found (possibly nothing). Look-ups beyond
    /// `max_provider_queries` wait their turn.
    pub async fn providers(&self, key: Hash) -> Result<Vec<PeerId>, NetworkError> {
        let call = self.call(|reply| Command::Providers { key, reply });
        let limit = self.provider_query_timeout.saturating_add(REQUEST_GRACE);
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(NetworkError::Busy("provider look-up timed out")),
        }
    }

    /// Tells the network where `peer` listens (for example a storage node's
    /// address registered on chain), so a request to it can dial it. The
    /// address may end in `/p2p/<peer>`, but not another peer's id.
    pub async fn add_peer_address(
        &self,
        peer: PeerId,
        addr: Multiaddr,
    ) -> Result<(), NetworkError> {
        self.call(|reply| Command::AddPeerAddress { peer, addr, reply })
            .await
    }

    /// The peers we are connected to.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetworkError> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// Addresses the swarm actually listens on (with the real port when the
    /// configuration asked for port 0).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetworkError> {
        self.ask(|reply| Command::ListenAddrs { reply }).await
    }

    /// Disconnects `peer` and refuses it until `unblock_peer`, independent of
    /// score bans. Used to simulate partitions.
    ///
    /// The block is enforced here: when `peer` dials us it may see a
    /// connection open and close at once, but no protocol traffic passes.
    /// For a partition both sides look clean on, block on both sides.
    pub async fn block_peer(&self, peer: PeerId) -> Result<(), NetworkError> {
        self.ask(|reply| Command::Block { peer, reply }).await
    }

    /// Lifts a `block_peer` (a score ban, if any, still applies) and dials
    /// the peer again if its address is known.
    pub async fn unblock_peer(&self, peer: PeerId) -> Result<(), NetworkError> {
        self.ask(|reply| Command::Unblock { peer, reply }).await
    }

    /// Stops the network task and waits until it has closed the swarm.
    /// Idempotent: stopping a stopped network succeeds.
    pub async fn shutdown(&self) -> Result<(), NetworkError> {
        match self.ask(|reply| Command::Shutdown { reply }).await {
            Ok(()) | Err(NetworkError::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn try_command(&self, cmd: Command) -> Result<(), NetworkError> {
        self.commands.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NetworkError::Busy("command queue full"),
            mpsc::error::TrySendError::Closed(_) => NetworkError::Closed,
        })
    }

    /// Sends a command whose answer is a `Result`.
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, NetworkError> {
        self.ask(make).await?
    }

    /// Sends a command and waits for its answer.
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| NetworkError::Closed)?;
        answer.await.map_err(|_| NetworkError::Closed)
    }
}

fn unexpected<T>(peer: PeerId, response: &SyncResponse) -> Result<T, NetworkError> {
    match response {
        SyncResponse::Busy => Err(NetworkError::Request {
            peer,
            reason: "peer is busy".into(),
        }),
        // The swarm task already checked the kind; this is only defensive.
        _ => Err(NetworkError::BadResponse(peer)),
    }
}
