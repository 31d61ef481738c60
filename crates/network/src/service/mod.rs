//! The swarm task: owns the libp2p swarm and every piece of network state,
//! and reacts to three inputs — swarm events, commands from handles, and a
//! periodic tick (ban expiry, discovery). One task, no locks: all state is
//! touched from here only.
//!
//! Split by concern: `commands` (what handles ask), `peers` (connections,
//! identify, discovery, bans), `gossip` (received messages), `sync` (the
//! sync request-response protocol), `content` (block transfer and DHT
//! provider records).

mod commands;
mod content;
mod gossip;
mod peers;
mod sync;

use crate::behaviour::{Behaviour, BehaviourEvent};
use crate::config::NetworkConfig;
use crate::content::{ContentProvider, ContentResponse};
use crate::event::EventSink;
use crate::gossip::{PayloadLimits, Topics};
use crate::handle::Command;
use crate::scoreboard::Scoreboard;
use crate::sync::{SyncLimits, SyncProvider};
use futures::StreamExt;
use libp2p::kad::{QueryId, RecordKey};
use libp2p::request_response::ResponseChannel;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub(crate) use self::content::{ContentPending, Lookup};
pub(crate) use self::sync::Pending;

/// Most foreign peers remembered.
const MAX_FOREIGN: usize = 1024;

/// How often bans are checked for expiry and scores recover.
const TICK: Duration = Duration::from_secs(1);

/// A served sync response on its way back from the blocking pool.
pub(crate) type Served = (
    ResponseChannel<crate::sync::SyncResponse>,
    crate::sync::SyncResponse,
);

/// A served content response on its way back from the blocking pool.
pub(crate) type ContentServed = (ResponseChannel<ContentResponse>, ContentResponse);

pub(crate) struct Service {
    swarm: Swarm<Behaviour>,
    topics: Topics,
    payload_limits: PayloadLimits,
    sync_limits: SyncLimits,
    events: EventSink,
    commands: mpsc::Receiver<Command>,
    provider: Arc<dyn SyncProvider>,
    scoreboard: Scoreboard<PeerId>,
    /// Peers blocked through `block_peer`, with the address to dial again
    /// on `unblock_peer`.
    manual_blocks: BTreeMap<PeerId, Option<Multiaddr>>,
    /// Connected peers and the remote address of their first connection;
    /// bounded by the connection limits.
    connected: BTreeMap<PeerId, Multiaddr>,
    /// Bootstrap peers, dialled again whenever we have no connection at all.
    bootstrap: Vec<(PeerId, Multiaddr)>,
    /// Our outstanding sync requests; bounded by `max_pending_requests`.
    pending: HashMap<libp2p::request_response::OutboundRequestId, Pending>,
    max_pending: usize,
    /// Inbound requests being served on the blocking pool.
    serving: usize,
    max_serving: usize,
    served_tx: mpsc::Sender<Served>,
    served_rx: mpsc::Receiver<Served>,
    target_peers: usize,
    discovery_interval: Duration,
    /// Peers whose identify announced another chain: not dialled again.
    /// Bounded by `MAX_FOREIGN` (oldest ids by order are forgotten first).
    foreign: BTreeSet<PeerId>,
    chain_id: u64,
    local_peer_id: PeerId,
    /// Answers peers' content requests; `None`: refuse them all.
    content: Option<Arc<dyn ContentProvider>>,
    /// Our outstanding content requests; bounded by
    /// `max_pending_content_requests`.
    content_pending: HashMap<libp2p::request_response::OutboundRequestId, ContentPending>,
    max_content_pending: usize,
    /// Inbound content requests being served on the blocking pool.
    content_serving: usize,
    max_content_serving: usize,
    max_content_response_bytes: usize,
    content_served_tx: mpsc::Sender<ContentServed>,
    content_served_rx: mpsc::Receiver<ContentServed>,
    /// Keys whose provider announcement waits for a slot; bounded by
    /// `max_provided_keys`.
    publish_queue: VecDeque<RecordKey>,
    max_publish_queue: usize,
    /// Running announcements; at most `max_concurrent_publishes`.
    publishing: HashSet<QueryId>,
    max_publishing: usize,
    /// Running provider look-ups (at most `max_provider_queries`) and
    /// those waiting (at most `content::MAX_QUEUED_LOOKUPS`).
    lookups: HashMap<QueryId, Lookup>,
    lookup_queue: VecDeque<Lookup>,
    max_lookups: usize,
    provider_query_timeout: Duration,
}

pub(crate) struct ServiceParts {
    pub swarm: Swarm<Behaviour>,
    pub topics: Topics,
    pub events: EventSink,
    pub commands: mpsc::Receiver<Command>,
    pub provider: Arc<dyn SyncProvider>,
    pub content: Option<Arc<dyn ContentProvider>>,
    pub bootstrap: Vec<(PeerId, Multiaddr)>,
    pub local_peer_id: PeerId,
}

impl Service {
    pub(crate) fn new(cfg: &NetworkConfig, parts: ServiceParts) -> Self {
        let (served_tx, served_rx) = mpsc::channel(cfg.max_concurrent_serves);
        let (content_served_tx, content_served_rx) =
            mpsc::channel(cfg.max_concurrent_content_serves);
        Service {
            swarm: parts.swarm,
            topics: parts.topics,
            payload_limits: PayloadLimits::from(cfg),
            sync_limits: SyncLimits {
                max_headers: cfg.max_headers_per_request,
                max_blocks: cfg.max_blocks_per_request,
                max_response_bytes: cfg.max_response_bytes,
            },
            events: parts.events,
            commands: parts.commands,
            provider: parts.provider,
            scoreboard: Scoreboard::new(cfg.scoring.clone()),
            manual_blocks: BTreeMap::new(),
            connected: BTreeMap::new(),
            bootstrap: parts.bootstrap,
            pending: HashMap::new(),
            max_pending: cfg.max_pending_requests,
            serving: 0,
            max_serving: cfg.max_concurrent_serves,
            served_tx,
            served_rx,
            target_peers: cfg.target_peers,
            discovery_interval: cfg.discovery_interval,
            foreign: BTreeSet::new(),
            chain_id: cfg.chain_id,
            local_peer_id: parts.local_peer_id,
            content: parts.content,
            content_pending: HashMap::new(),
            max_content_pending: cfg.max_pending_content_requests,
            content_serving: 0,
            max_content_serving: cfg.max_concurrent_content_serves,
            max_content_response_bytes: cfg.max_content_response_bytes,
            content_served_tx,
            content_served_rx,
            publish_queue: VecDeque::new(),
            max_publish_queue: cfg.max_provided_keys,
            publishing: HashSet::new(),
            max_publishing: cfg.max_concurrent_publishes,
            lookups: HashMap::new(),
            lookup_queue: VecDeque::new(),
            max_lookups: cfg.max_provider_queries,
            provider_query_timeout: cfg.provider_query_timeout,
        }
    }

    /// Runs until `shutdown` or until every handle is dropped.
    pub(crate) async fn run(mut self) {
        self.join_bootstrap();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut discovery = tokio::time::interval(self.discovery_interval);
        discovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown_reply: Option<oneshot::Sender<()>> = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                Some((channel, response)) = self.served_rx.recv() => self.on_served(channel, response),
                Some((channel, response)) = self.content_served_rx.recv() => self.on_content_served(channel, response),
                _ = tick.tick() => self.on_tick(),
                _ = discovery.tick() => self.discover(),
            }
        };
        tracing::info!(target: "umbra::network", "network stopping");
        // Answer pending requests now rather than letting callers time out.
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(crate::error::NetworkError::Closed));
        }
        self.close_content();
        drop(self.swarm);
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(());
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.on_gossip(e),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            SwarmEvent::Behaviour(BehaviourEvent::Content(e)) => self.on_content(e),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => self.on_identify(e),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(e)) => self.on_kad(e),
            SwarmEvent::Behaviour(BehaviourEvent::Blocked(never)) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::Limits(never)) => match never {},
            other => self.on_connection_event(other),
        }
    }

    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn on_tick(&mut self) {
        self.expire_lookups();
        let now = std::time::Instant::now();
        for peer in self.scoreboard.tick(now) {
            tracing::info!(target: "umbra::network", %peer, "ban expired");
            if !self.manual_blocks.contains_key(&peer) {
                self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            }
        }
    }
}
