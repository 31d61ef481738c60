//! The node on the network: gossip in (transactions to the mempool, blocks
//! to fork choice, a verdict for each), gossip out (blocks this node
//! produced, transactions it admitted from RPC), and sync: catching up from
//! a peer whose chain is longer — headers first to find where the chains
//! part, then blocks, each fully validated.

use crate::chain::{Chain, ImportError, Received};
use crate::mempool::Mempool;
use crate::service::now_ms;
use crate::submit::admit;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use umbra_crypto::verify_transactions_parallel;
use umbra_network::{
    ChainStatus, Multiaddr, Network, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle,
    PeerId, SyncProvider, Verdict,
};
use umbra_rpc::ErrorCode;
use umbra_types::{Block, Hash, Header, Height, Transaction};

/// Headers asked for at once when looking for the fork point.
const SYNC_HEADERS: u32 = 512;
/// Blocks asked for at once.
const SYNC_BLOCKS: u32 = 64;
/// How often the node compares its head with its peers'.
const SYNC_INTERVAL: Duration = Duration::from_millis(1_000);
/// Gossiped transaction messages (batches of up to the network's
/// `max_tx_batch_bytes`) waiting for the admission worker; more are ignored
/// (no penalty: the sender did nothing wrong).
const TX_QUEUE: usize = 128;
/// Most gossiped transactions admitted in one batch (signatures verified
/// together, in parallel).
const TX_BATCH: usize = 1_024;

/// Where the node listens and whom it joins through.
#[derive(Clone, Debug)]
pub struct P2pSettings {
    pub listen: Multiaddr,
    pub bootstrap: Vec<Multiaddr>,
    /// Seed of the node's libp2p identity (its peer id).
    pub secret: [u8; 32],
}

/// The seed of a node's libp2p identity, derived from its key so the peer
/// id is stable across restarts and computable by a launcher in advance.
pub fn p2p_secret(key: &umbra_crypto::Keypair) -> [u8; 32] {
    umbra_types::sha256_parts(&[b"umbra/p2p-identity/v1", &key.seed()]).0
}

/// Parses a listen or peer address: a multiaddr (`/ip4/127.0.0.1/tcp/30333`,
/// with `/p2p/<id>` for peers) or the shorthand `127.0.0.1:30333`.
pub fn parse_p2p_addr(s: &str) -> Result<Multiaddr, String> {
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        let ip = match sa.ip() {
            std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
            std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
        };
        return format!("{ip}/tcp/{}", sa.port())
            .parse()
            .map_err(|e| format!("`{s}`: {e}"));
    }
    s.parse().map_err(|e| {
        format!("`{s}` is neither a multiaddr (/ip4/127.0.0.1/tcp/30333) nor IP:PORT: {e}")
    })
}

/// What the rest of the node sends out through the network.
#[derive(Debug)]
pub enum Outbound {
    Block(Block),
    Tx(Transaction),
}

/// Capacity of the outbound queue; when full, the item is not gossiped
/// (peers still get blocks by sync and transactions from other peers).
pub const OUTBOUND_QUEUE: usize = 1024;

/// Answers peers' sync requests from the chain.
struct ChainProvider {
    chain: Arc<Chain>,
}

impl SyncProvider for ChainProvider {
    fn status(&self) -> ChainStatus {
        let head = self.chain.head();
        ChainStatus {
            head_height: head.height,
            head_hash: head.hash(),
            irreversible_height: self.chain.irreversible_height(),
            genesis_hash: self.chain.genesis_hash(),
        }
    }

    fn headers(&self, from: Height, max: u32) -> Vec<Header> {
        let store = self.chain.store();
        (from..from.saturating_add(u64::from(max)))
            .map_while(|h| store.header(h).ok().flatten())
            .collect()
    }

    fn blocks(&self, from: Height, max: u32) -> Vec<Block> {
        let store = self.chain.store();
        (from..from.saturating_add(u64::from(max)))
            .map_while(|h| store.block(h).ok().flatten())
            .collect()
    }

    fn block_by_hash(&self, hash: Hash) -> Option<Block> {
        let store = self.chain.store();
        let h = store.height_of(&hash).ok().flatten()?;
        store.block(h).ok().flatten()
    }
}

/// Shared by the network tasks.
struct Ctx {
    chain: Arc<Chain>,
    mempool: Arc<Mutex<Mempool>>,
    heads: broadcast::Sender<Header>,
    net: NetworkHandle,
    sync_now: mpsc::Sender<PeerId>,
    /// Signs equivocation reports (the node's key, if it has one).
    reporter: Option<umbra_crypto::Keypair>,
}

/// The running network side of a node.
pub struct P2p {
    pub handle: NetworkHandle,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl P2p {
    pub async fn start(
        settings: P2pSettings,
        chain: Arc<Chain>,
        mempool: Arc<Mutex<Mempool>>,
        heads: broadcast::Sender<Header>,
        outbound: mpsc::Receiver<Outbound>,
        reporter: Option<umbra_crypto::Keypair>,
        content: Option<Arc<dyn umbra_network::ContentProvider>>,
    ) -> Result<P2p, NetworkError> {
        let mut cfg = NetworkConfig::new(
            chain.spec().chain_id,
            settings.secret,
            settings.listen,
            settings.bootstrap,
        );
        // Consensus blocks must reach a miner within its slot: discovery
        // runs more often than the default on small networks.
        cfg.discovery_interval = Duration::from_secs(5);
        cfg.max_tx_bytes = cfg.max_tx_bytes.max(chain.params().max_tx_bytes as usize);
        let provider = Arc::new(ChainProvider {
            chain: chain.clone(),
        });
        let (net, events) = Network::start_with_content(cfg, provider, content).await?;
        let (sync_now, sync_rx) = mpsc::channel(64);
        let (txs_in, txs_rx) = mpsc::channel(TX_QUEUE);
        let ctx = Arc::new(Ctx {
            chain,
            mempool,
            heads,
            net: net.clone(),
            sync_now,
            reporter,
        });
        let tasks = vec![
            tokio::spawn(event_loop(ctx.clone(), events, txs_in)),
            tokio::spawn(tx_worker(ctx.clone(), txs_rx)),
            tokio::spawn(sync_loop(ctx.clone(), sync_rx)),
            tokio::spawn(outbound_loop(ctx, outbound)),
        ];
        Ok(P2p { handle: net, tasks })
    }

    pub async fn stop(self) {
        let _ = self.handle.shutdown().await;
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Transactions admitted within this long of the first are gossiped with
/// it as one message (a block never waits).
const TX_LINGER: Duration = Duration::from_millis(10);
/// Most transactions gathered for one round of gossip (the network splits
/// them into messages within its own batch limits).
const TX_GOSSIP_BATCH: usize = 1_024;

async fn outbound_loop(ctx: Arc<Ctx>, mut rx: mpsc::Receiver<Outbound>) {
    while let Some(item) = rx.recv().await {
        let mut txs = match item {
            Outbound::Block(b) => {
                log_unsent(ctx.net.publish_block(&b).await.map(|_| ()));
                continue;
            }
            Outbound::Tx(t) => vec![t],
        };
        // Each gossip message costs a libp2p signature to make and one to
        // check at every peer it reaches: transactions that arrive together
        // go out together.
        let deadline = tokio::time::Instant::now() + TX_LINGER;
        let mut blocks = Vec::new();
        while txs.len() < TX_GOSSIP_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Outbound::Tx(t))) => txs.push(t),
                // A block goes out at once, before the batch.
                Ok(Some(Outbound::Block(b))) => blocks.push(b),
                Ok(None) | Err(_) => break,
            }
            if !blocks.is_empty() {
                break;
            }
        }
        for b in blocks {
            log_unsent(ctx.net.publish_block(&b).await.map(|_| ()));
        }
        log_unsent(ctx.net.publish_txs(&txs).await.map(|_| ()));
    }
}

fn log_unsent(r: Result<(), NetworkError>) {
    if let Err(e) = r {
        // No peers yet, or the same bytes went out a moment ago: sync
        // and other peers cover both.
        tracing::debug!(target: "umbra::p2p", error = %e, "not gossiped");
    }
}

/// A gossiped batch of transactions waiting for admission.
struct GossipedTxs {
    source: PeerId,
    id: umbra_network::MessageId,
    txs: Vec<Transaction>,
}

async fn event_loop(
    ctx: Arc<Ctx>,
    mut events: mpsc::Receiver<NetworkEvent>,
    txs: mpsc::Sender<GossipedTxs>,
) {
    while let Some(ev) = events.recv().await {
        match ev {
            // Admitted in batches by `tx_worker`, so blocks are not queued
            // behind thousands of signature checks.
            NetworkEvent::Transactions {
                source,
                id,
                txs: batch,
            } => {
                if let Err(mpsc::error::TrySendError::Full(t)) = txs.try_send(GossipedTxs {
                    source,
                    id,
                    txs: batch,
                }) {
                    let _ = ctx.net.report_validation(t.id, t.source, Verdict::Ignore);
                }
            }
            NetworkEvent::Block { source, id, block } => {
                let c = ctx.clone();
                let verdict = tokio::task::spawn_blocking(move || {
                    let r = c.chain.receive(*block, now_ms());
                    settle(&c, r)
                })
                .await
                .unwrap_or(Settled::Ignore);
                report_evidence(&ctx).await;
                let v = match verdict {
                    Settled::Accept => Verdict::Accept,
                    Settled::Reject => Verdict::Reject,
                    Settled::Ignore => Verdict::Ignore,
                    Settled::Orphan => {
                        let _ = ctx.sync_now.try_send(source);
                        Verdict::Ignore
                    }
                };
                let _ = ctx.net.report_validation(id, source, v);
            }
            NetworkEvent::PeerConnected(p) => {
                tracing::info!(target: "umbra::p2p", peer = %p, "peer connected");
                let _ = ctx.sync_now.try_send(p);
            }
            NetworkEvent::PeerDisconnected(p) => {
                tracing::info!(target: "umbra::p2p", peer = %p, "peer disconnected");
            }
            NetworkEvent::PeerBanned(p) => {
                tracing::warn!(target: "umbra::p2p", peer = %p, "peer banned");
            }
        }
    }
}

/// Reports equivocations the chain saw (with this node's key, if any).
async fn report_evidence(ctx: &Arc<Ctx>) {
    let evidence = ctx.chain.take_evidence();
    let Some(key) = &ctx.reporter else { return };
    for ev in evidence {
        let Some(tx) = crate::evidence::report_tx(&ctx.chain, &ctx.mempool, key, &ev) else {
            continue;
        };
        match admit(&ctx.chain, &ctx.mempool, tx.clone()) {
            Ok((hash, _)) => {
                tracing::warn!(target: "umbra::p2p", tx = %hash, miner = %ev.first.proposer.address(), "reported an equivocation");
                let _ = ctx.net.publish_tx(&tx).await;
            }
            Err(e) => {
                tracing::warn!(target: "umbra::p2p", error = %e.message, "could not submit an equivocation report");
            }
        }
    }
}

/// Admits gossiped transactions a batch at a time: whatever messages are
/// queued (up to about `TX_BATCH` transactions), signatures verified
/// together in parallel. A message is judged as a whole: rejected if any of
/// its transactions is (a peer relayed something no node should), accepted
/// (forwarded) if any was new to the mempool, otherwise ignored.
async fn tx_worker(ctx: Arc<Ctx>, mut rx: mpsc::Receiver<GossipedTxs>) {
    while let Some(first) = rx.recv().await {
        let mut count = first.txs.len();
        let mut batch = vec![first];
        while count < TX_BATCH {
            match rx.try_recv() {
                Ok(m) => {
                    count += m.txs.len();
                    batch.push(m);
                }
                Err(_) => break,
            }
        }
        let c = ctx.clone();
        let verdicts = tokio::task::spawn_blocking(move || {
            // Moved out of their messages, not copied: one flat list to
            // verify, each message remembering how many were its own.
            let mut all = Vec::with_capacity(count);
            let messages: Vec<_> = batch
                .into_iter()
                .map(|m| {
                    let n = m.txs.len();
                    all.extend(m.txs);
                    (m.id, m.source, n)
                })
                .collect();
            let mut sigs_ok = verify_transactions_parallel(&all).into_iter();
            let mut all = all.into_iter();
            messages
                .into_iter()
                .map(|(id, source, n)| {
                    let mut verdict = Verdict::Ignore;
                    for _ in 0..n {
                        let (Some(tx), Some(ok)) = (all.next(), sigs_ok.next()) else {
                            break;
                        };
                        let v = if ok {
                            admit_gossiped(&c, tx)
                        } else {
                            Verdict::Reject
                        };
                        verdict = match (verdict, v) {
                            (Verdict::Reject, _) | (_, Verdict::Reject) => Verdict::Reject,
                            (Verdict::Accept, _) | (_, Verdict::Accept) => Verdict::Accept,
                            _ => Verdict::Ignore,
                        };
                    }
                    (id, source, verdict)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (id, source, v) in verdicts {
            let _ = ctx.net.report_validation(id, source, v);
        }
    }
}

/// The verdict on a gossiped transaction whose signature verified.
fn admit_gossiped(ctx: &Ctx, tx: Transaction) -> Verdict {
    match admit(&ctx.chain, &ctx.mempool, tx) {
        Ok(_) => Verdict::Accept,
        // Signed but malformed (wrong chain, oversized): the sender relayed
        // something no node should.
        Err(e) if e.code == ErrorCode::BadSignature.code() => Verdict::Reject,
        Err(_) => Verdict::Ignore,
    }
}

/// How a received block turned out, for the gossip verdict.
enum Settled {
    Accept,
    Reject,
    Ignore,
    Orphan,
}

/// Updates the mempool and head subscribers after `receive`.
fn settle(ctx: &Ctx, r: Result<Received, ImportError>) -> Settled {
    match r {
        Ok(Received::Extended(headers)) => {
            for h in headers {
                on_new_head(ctx, &h);
            }
            Settled::Accept
        }
        Ok(Received::Reorganised { reverted, applied }) => {
            tracing::info!(target: "umbra::p2p", reverted = reverted.len(), applied = applied.len(), "reorganised");
            for h in &applied {
                on_new_head(ctx, h);
            }
            // Transactions of the abandoned blocks go back to the mempool
            // unless the new branch included them (admit refuses those).
            for b in reverted {
                for tx in b.transactions {
                    let _ = admit(&ctx.chain, &ctx.mempool, tx);
                }
            }
            Settled::Accept
        }
        Ok(Received::Side) => Settled::Accept,
        Ok(Received::Known | Received::Stale) => Settled::Ignore,
        Ok(Received::Orphan) => Settled::Orphan,
        Err(e) if e.is_invalid_block() => {
            tracing::warn!(target: "umbra::p2p", error = %e, "invalid block");
            Settled::Reject
        }
        Err(e) => {
            tracing::debug!(target: "umbra::p2p", error = %e, "block not imported now");
            Settled::Ignore
        }
    }
}

fn on_new_head(ctx: &Ctx, h: &Header) {
    let txs = ctx
        .chain
        .store()
        .block(h.height)
        .ok()
        .flatten()
        .map(|b| b.transactions)
        .unwrap_or_default();
    ctx.mempool
        .lock()
        .on_block(&txs, h.height, ctx.chain.params().ref_block_window);
    let _ = ctx.heads.send(h.clone());
}

async fn sync_loop(ctx: Arc<Ctx>, mut nudges: mpsc::Receiver<PeerId>) {
    let mut tick = tokio::time::interval(SYNC_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let peers: Vec<PeerId> = tokio::select! {
            _ = tick.tick() => match ctx.net.peers().await {
                Ok(p) => p.into_iter().map(|p| p.id).collect(),
                Err(_) => return,
            },
            p = nudges.recv() => match p {
                Some(p) => vec![p],
                None => return,
            },
        };
        for peer in peers {
            if let Err(e) = sync_with(&ctx, peer).await {
                tracing::debug!(target: "umbra::p2p", %peer, error = %e, "sync attempt failed");
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error("peer follows another chain")]
    OtherChain,
    #[error("peer sent an invalid block: {0}")]
    Invalid(String),
    #[error("task failed")]
    Join,
}

/// Catches up from `peer` if its chain is longer than ours or has made more
/// irreversible: fork choice prefers the latter even when it is shorter
/// (see `Chain::receive`), so after a partition heals the side that
/// finalised less must fetch the other's branch to be able to switch.
async fn sync_with(ctx: &Arc<Ctx>, peer: PeerId) -> Result<(), SyncError> {
    let status = ctx.net.status(peer).await?;
    if status.genesis_hash != ctx.chain.genesis_hash() {
        let _ = ctx.net.report_bad_response(peer);
        return Err(SyncError::OtherChain);
    }
    let head = ctx.chain.head();
    if status.head_height <= head.height
        && status.irreversible_height <= ctx.chain.irreversible_height()
    {
        return Ok(());
    }
    // Where do the chains part? Compare the peer's headers with ours from
    // just above our irreversible block (below it they cannot differ).
    let lib = ctx.chain.irreversible_height();
    let mut common = lib;
    let mut from = lib + 1;
    'search: while from <= head.height {
        let headers = ctx.net.headers(peer, from, SYNC_HEADERS).await?;
        if headers.is_empty() {
            break;
        }
        // An answer must be the range asked for; anything else (repeated or
        // out-of-order heights) could keep this loop from progressing.
        if headers.iter().zip(from..).any(|(h, want)| h.height != want) {
            let _ = ctx.net.report_bad_response(peer);
            return Err(SyncError::Invalid("headers out of the asked range".into()));
        }
        for h in &headers {
            let ours = ctx.chain.store().header(h.height).ok().flatten();
            if h.height > head.height || ours.map(|o| o.hash()) != Some(h.hash()) {
                break 'search;
            }
            common = h.height;
        }
        from = common + 1;
    }
    let mut next = common + 1;
    while next <= status.head_height {
        let blocks = ctx.net.blocks(peer, next, SYNC_BLOCKS).await?;
        let Some(last) = blocks.last().map(|b| b.header.height) else {
            break;
        };
        let c = ctx.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            for b in blocks {
                let r = c.chain.receive(b, now_ms());
                if let Settled::Reject = settle(&c, r) {
                    return Err(());
                }
            }
            Ok(())
        })
        .await
        .map_err(|_| SyncError::Join)?;
        report_evidence(ctx).await;
        if outcome.is_err() {
            let _ = ctx.net.report_bad_response(peer);
            return Err(SyncError::Invalid(format!("in blocks from {next}")));
        }
        if last < next {
            break;
        }
        next = last + 1;
    }
    Ok(())
}
