//! The running node: chain, mempool, block producer and RPC server wired
//! together.

use crate::chain::{Chain, ChainError};
use crate::mempool::{Mempool, MempoolConfig};
use crate::rpc_server::{RpcContext, serve};
use crate::spec::ChainSpec;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;
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
}

/// A running node. Dropping it without [`Node::stop`] leaves the producer
/// thread running until the process exits.
pub struct Node {
    ctx: Arc<RpcContext>,
    rpc_addr: SocketAddr,
    server: jsonrpsee::server::ServerHandle,
    stop: Arc<AtomicBool>,
    producer: Option<std::thread::JoinHandle<()>>,
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
        tracing::info!(target: "umbra::node", height = head.height, hash = %head.hash(), "chain opened");

        let mempool = Arc::new(Mutex::new(Mempool::new(cfg.mempool)));
        let (heads, _) = broadcast::channel(256);
        let producing = cfg.key.as_ref().is_some_and(|k| {
            chain
                .consensus()
                .next_slot(&head, &k.public(), now_ms())
                .is_some()
        });
        let ctx = Arc::new(RpcContext {
            chain: chain.clone(),
            mempool: mempool.clone(),
            heads: heads.clone(),
            producing,
            block_time_ms,
        });
        let (rpc_addr, server) =
            serve(cfg.rpc_addr, ctx.clone())
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
        let _ = self.server.stop();
        self.server.clone().stopped().await;
    }
}

struct Producer {
    chain: Arc<Chain>,
    mempool: Arc<Mutex<Mempool>>,
    heads: broadcast::Sender<umbra_types::Header>,
    key: Keypair,
    stop: Arc<AtomicBool>,
}

impl Producer {
    fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            let head = self.chain.head();
            let now = now_ms();
            let Some(slot) = self
                .chain
                .consensus()
                .next_slot(&head, &self.key.public(), now)
            else {
                tracing::warn!(target: "umbra::producer", "no longer an authority; stopping production");
                return;
            };
            if now < slot.timestamp_ms {
                std::thread::sleep(Duration::from_millis((slot.timestamp_ms - now).min(50)));
                continue;
            }
            self.produce_one(now);
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
                let txs = ex.block.transactions.clone();
                let header = self.chain.commit(ex)?;
                Ok((header, txs, rejected))
            });
        match result {
            Ok((header, txs, rejected)) => {
                {
                    let mut m = self.mempool.lock();
                    m.on_block(&txs, header.height, params.ref_block_window);
                    for (h, reason) in &rejected {
                        tracing::debug!(target: "umbra::producer", tx = %h, %reason, "dropped from mempool");
                        m.remove(h);
                    }
                }
                tracing::info!(
                    target: "umbra::producer",
                    height = header.height,
                    txs = txs.len(),
                    dropped = rejected.len(),
                    ms = started.elapsed().as_millis() as u64,
                    exec_and_state_ms = exec_ms,
                    "produced block"
                );
                let _ = self.heads.send(header);
            }
            Err(e) => {
                // A disk error must not spin: wait a slot and try again.
                tracing::error!(target: "umbra::producer", error = %e, "block production failed");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}
