//! The running node: chain, mempool, block producer and RPC server wired
//! together.

use crate::chain::{Chain, ChainError};
use crate::mempool::{Mempool, MempoolConfig};
use crate::p2p::{OUTBOUND_QUEUE, Outbound, P2p, P2pSettings};
use crate::rpc_server::{RpcContext, serve};
use crate::spec::ChainSpec;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc};
use umbra_crypto::Keypair;
use umbra_runtime::{Executor, ParallelExecutor, SequentialExecutor};
use umbra_storage::{Store, StoreConfig};

/// Wall-clock milliseconds since the Unix epoch: the node's only clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Everything needed to start a node.
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub spec: ChainSpec,
    /// The node's key; it produces blocks when the key is an authority.
    pub key: Option<Keypair>,
    pub rpc_addr: SocketAddr,
    /// Overrides the spec's block time (the solo engine's pace).
    pub block_time_ms: Option<u64>,
    pub store: StoreConfig,
    pub mempool: MempoolConfig,
    pub executor: ExecutorChoice,
    /// Join a peer-to-peer network (`None`: a single node, RPC only).
    pub p2p: Option<P2pSettings>,
    /// Serve the `admin_*` RPC methods (peer blocking for partition tests).
    /// Only for local test networks.
    pub admin_rpc: bool,
    /// Be a storage node (PDFS): keep blocks here and register on chain.
    pub storage: Option<crate::content::StorageSettings>,
}

/// Which block executor the node runs. Both give identical results; the
/// sequential one exists for comparison and as a fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorChoice {
    Sequential,
    /// Conflict groups on `threads` workers (0: one per core).
    Parallel {
        threads: usize,
    },
}

impl Default for ExecutorChoice {
    fn default() -> Self {
        ExecutorChoice::Parallel { threads: 0 }
    }
}

impl ExecutorChoice {
    pub fn build(self) -> Result<Box<dyn Executor>, NodeError> {
        Ok(match self {
            ExecutorChoice::Sequential => Box::new(SequentialExecutor),
            ExecutorChoice::Parallel { threads } => Box::new(
                ParallelExecutor::new(threads).map_err(|e| NodeError::Executor(e.to_string()))?,
            ),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot open the database in {path}: {reason}")]
    Store { path: String, reason: String },
    #[error("cannot serve RPC on {addr}: {reason}")]
    Rpc { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Executor(String),
    #[error("cannot start networking: {0}")]
    Network(String),
    #[error("cannot start the storage role: {0}")]
    Storage(String),
}

/// A running node. Dropping it without [`Node::stop`] leaves the producer
/// thread running until the process exits.
pub struct Node {
    ctx: Arc<RpcContext>,
    rpc_addr: SocketAddr,
    server: jsonrpsee::server::ServerHandle,
    stop: Arc<AtomicBool>,
    producer: Option<std::thread::JoinHandle<()>>,
    p2p: Option<P2p>,
    /// Storage upkeep and registration tasks.
    storage_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    pub async fn start(cfg: NodeConfig) -> Result<Node, NodeError> {
        let db_path = cfg.data_dir.join("db");
        let store = Store::open(&db_path, cfg.store.clone()).map_err(|e| NodeError::Store {
            path: db_path.display().to_string(),
            reason: e.to_string(),
        })?;
        let block_time_ms = cfg
            .block_time_ms
            .unwrap_or(cfg.spec.consensus.block_time_ms)
            .max(1);
        let consensus = cfg
            .spec
            .consensus_engine(block_time_ms)
            .map_err(ChainError::from)?;
        let executor = cfg.executor.build()?;
        let chain = Arc::new(Chain::open(store, cfg.spec, consensus, executor)?);
        let head = chain.head();
        tracing::info!(target: "umbra::node", height = head.height, hash = %head.hash(), engine = chain.engine().name(), "chain opened");

        let mempool = Arc::new(Mutex::new(Mempool::new(cfg.mempool)));
        let (heads, _) = broadcast::channel(256);
        let producing = cfg
            .key
            .as_ref()
            .is_some_and(|k| chain.engine().may_produce(&k.public()));
        let content = match &cfg.storage {
            Some(settings) => {
                let key = cfg.key.as_ref().ok_or_else(|| {
                    NodeError::Storage(
                        "a storage node needs a key: it registers itself on chain".into(),
                    )
                })?;
                let secret = cfg
                    .p2p
                    .as_ref()
                    .map_or_else(|| crate::p2p::p2p_secret(key), |p| p.secret);
                let me = umbra_network::peer_id_from_secret(secret)
                    .map_err(|e| NodeError::Storage(e.to_string()))?;
                Some(
                    crate::content::ContentService::open(settings, chain.clone(), me)
                        .map_err(|e| NodeError::Storage(e.to_string()))?,
                )
            }
            None => None,
        };
        let (outbound, p2p) = match cfg.p2p {
            Some(settings) => {
                let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
                let provider = content.clone().map(|c| {
                    Arc::new(crate::content::Provider(c)) as Arc<dyn umbra_network::ContentProvider>
                });
                let p2p = P2p::start(
                    settings,
                    chain.clone(),
                    mempool.clone(),
                    heads.clone(),
                    rx,
                    cfg.key.clone(),
                    provider,
                )
                .await
                .map_err(|e| NodeError::Network(e.to_string()))?;
                let addrs = p2p.handle.listen_addrs().await.unwrap_or_default();
                tracing::info!(target: "umbra::p2p", peer_id = %p2p.handle.local_peer_id(), ?addrs, "p2p listening");
                (Some(tx), Some(p2p))
            }
            None => (None, None),
        };
        let mut storage_tasks = Vec::new();
        if let (Some(c), Some(key)) = (&content, &cfg.key) {
            let mut addrs = Vec::new();
            if let Some(p) = &p2p {
                c.set_network(p.handle.clone());
                addrs = p
                    .handle
                    .listen_addrs()
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| umbra_network::peer_addr(&a, c.peer_id()).to_string())
                    .take(4)
                    .collect();
            }
            storage_tasks.push(crate::content::ensure_registered(
                chain.clone(),
                mempool.clone(),
                key.clone(),
                c.peer_id(),
                addrs,
                outbound.clone(),
            ));
            let every = cfg
                .storage
                .as_ref()
                .map_or(Duration::from_secs(10), |s| s.upkeep_every);
            storage_tasks.push(crate::content::spawn_maintenance(c.clone(), every));
        }
        let ctx = Arc::new(RpcContext {
            chain: chain.clone(),
            mempool: mempool.clone(),
            heads: heads.clone(),
            producing,
            block_time_ms: chain.engine().interval_ms(),
            key: cfg.key.as_ref().map(|k| k.public()),
            network: p2p.as_ref().map(|p| p.handle.clone()),
            outbound: outbound.clone(),
            admin: cfg.admin_rpc,
        });
        let (rpc_addr, server) = serve(cfg.rpc_addr, ctx.clone(), content.clone())
            .await
            .map_err(|e| NodeError::Rpc {
                addr: cfg.rpc_addr,
                reason: e.to_string(),
            })?;
        tracing::info!(target: "umbra::rpc", %rpc_addr, "RPC listening (HTTP and WebSocket)");

        let stop = Arc::new(AtomicBool::new(false));
        let producer = match (producing, cfg.key) {
            (true, Some(key)) => {
                let p = Producer {
                    chain,
                    mempool,
                    heads,
                    key,
                    stop: stop.clone(),
                    outbound,
                };
                Some(
                    std::thread::Builder::new()
                        .name("producer".into())
                        .spawn(move || p.run())
                        .map_err(|e| NodeError::Rpc {
                            addr: rpc_addr,
                            reason: format!("cannot start the producer thread: {e}"),
                        })?,
                )
            }
            _ => {
                tracing::warn!(target: "umbra::node", "this node's key is not an authority of the chain: it serves RPC but produces no blocks");
                None
            }
        };
        Ok(Node {
            ctx,
            rpc_addr,
            server,
            stop,
            producer,
            p2p,
            storage_tasks,
        })
    }

    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    pub fn chain(&self) -> &Arc<Chain> {
        &self.ctx.chain
    }

    /// Stops producing and serving, waiting for an in-flight block to commit.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(p) = self.producer.take() {
            let _ = tokio::task::spawn_blocking(move || p.join()).await;
        }
        for t in self.storage_tasks.drain(..) {
            t.abort();
        }
        let _ = self.server.stop();
        self.server.clone().stopped().await;
        if let Some(p) = self.p2p.take() {
            p.stop().await;
        }
    }

    /// The peer-to-peer handle, when the node joined a network.
    pub fn network(&self) -> Option<&umbra_network::NetworkHandle> {
        self.p2p.as_ref().map(|p| &p.handle)
    }
}

struct Producer {
    chain: Arc<Chain>,
    mempool: Arc<Mutex<Mempool>>,
    heads: broadcast::Sender<umbra_types::Header>,
    key: Keypair,
    stop: Arc<AtomicBool>,
    outbound: Option<mpsc::Sender<Outbound>>,
}

/// Longest the producer sleeps before looking again (the head may change
/// under it: a block from a peer starts a new slot).
const MAX_NAP_MS: u64 = 20;

impl Producer {
    fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            let now = now_ms();
            match self.chain.proposal(&self.key, now) {
                Ok(Some(p)) if now < p.timestamp_ms => {
                    nap(p.timestamp_ms - now);
                }
                // A tiny block only carries transactions; without any,
                // leave the slot to the next block's reveal.
                Ok(Some(p)) if p.tiny && self.mempool.lock().counts().0 == 0 => nap(5),
                Ok(Some(_)) => self.produce_one(now),
                Ok(None) => {
                    let next = self
                        .chain
                        .next_slot_ms(&self.key.public(), now)
                        .ok()
                        .flatten();
                    nap(next.map_or(MAX_NAP_MS, |t| t.saturating_sub(now)).max(1));
                }
                // A reorganisation moving the head under this read is
                // transient: look again soon, without a flood of logs.
                Err(e) => {
                    tracing::debug!(target: "umbra::producer", error = %e, "cannot read the consensus state");
                    std::thread::sleep(Duration::from_millis(MAX_NAP_MS));
                }
            }
        }
    }

    fn produce_one(&self, now: u64) {
        let started = Instant::now();
        let params = self.chain.params();
        let candidates = self.mempool.lock().ready_batch(
            params.max_block_txs as usize,
            params.max_block_bytes as usize,
        );
        let mut exec_ms = 0;
        let result = self
            .chain
            .produce(&self.key, &candidates, now)
            .and_then(|ex| {
                exec_ms = started.elapsed().as_millis() as u64;
                let rejected: Vec<_> = ex.rejected.iter().map(|(h, r)| (*h, r.clone())).collect();
                let block = ex.block.clone();
                let header = self.chain.commit(ex)?;
                Ok((header, block, rejected))
            });
        match result {
            Ok((header, block, rejected)) => {
                {
                    let mut m = self.mempool.lock();
                    m.on_block(&block.transactions, header.height, params.ref_block_window);
                    for (h, reason) in &rejected {
                        tracing::debug!(target: "umbra::producer", tx = %h, %reason, "dropped from mempool");
                        m.remove(h);
                    }
                }
                tracing::info!(
                    target: "umbra::producer",
                    height = header.height,
                    txs = block.transactions.len(),
                    dropped = rejected.len(),
                    ms = started.elapsed().as_millis() as u64,
                    exec_and_state_ms = exec_ms,
                    "produced block"
                );
                if let Some(out) = &self.outbound
                    && out.try_send(Outbound::Block(block)).is_err()
                {
                    tracing::warn!(target: "umbra::producer", "outbound queue full: block not gossiped (peers will sync it)");
                }
                let _ = self.heads.send(header);
            }
            // A block from a peer moved the head while this one was built,
            // or the slot passed: look again at once.
            Err(ChainError::Stale { .. } | ChainError::NotProposer) => {}
            Err(e) => {
                // A disk error must not spin: wait a slot and try again.
                tracing::error!(target: "umbra::producer", error = %e, "block production failed");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

fn nap(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms.min(MAX_NAP_MS)));
}
