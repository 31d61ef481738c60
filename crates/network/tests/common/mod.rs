//! Shared helpers of the integration tests: a fixed in-memory chain as sync
//! provider, starting nodes on loopback, and waiting for conditions with a
//! deadline (never sleeping as an assertion).

#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use umbra_network::{
    ChainStatus, Multiaddr, Network, NetworkConfig, NetworkEvent, NetworkHandle, PeerId,
    SyncProvider,
};
use umbra_types::{Address, Payload};
use umbra_types::{
    Amount, Block, Hash, Header, Height, PublicKey, RefBlock, Signature, Transaction,
};

/// Generous: CI machines have two cores and run tests in parallel.
pub const WAIT: Duration = Duration::from_secs(60);

/// A chain of `len` blocks served from memory.
pub struct MemChain {
    pub blocks: Vec<Block>,
}

impl MemChain {
    pub fn new(chain_id: u64, len: u64) -> Self {
        let mut parent = Hash::ZERO;
        let blocks = (0..len)
            .map(|h| {
                let b = block(chain_id, h, parent, vec![tx(chain_id, h)]);
                parent = b.hash();
                b
            })
            .collect();
        MemChain { blocks }
    }
}

impl SyncProvider for MemChain {
    fn status(&self) -> ChainStatus {
        let head = self.blocks.last();
        ChainStatus {
            head_height: head.map_or(0, |b| b.header.height),
            head_hash: head.map_or(Hash::ZERO, |b| b.hash()),
            irreversible_height: 0,
            genesis_hash: self.blocks.first().map_or(Hash::ZERO, |b| b.hash()),
        }
    }
    fn headers(&self, from: Height, max: u32) -> Vec<Header> {
        self.blocks(from, max)
            .into_iter()
            .map(|b| b.header)
            .collect()
    }
    fn blocks(&self, from: Height, max: u32) -> Vec<Block> {
        self.blocks
            .iter()
            .skip(from as usize)
            .take(max as usize)
            .cloned()
            .collect()
    }
    fn block_by_hash(&self, hash: Hash) -> Option<Block> {
        self.blocks.iter().find(|b| b.hash() == hash).cloned()
    }
}

pub fn tx(chain_id: u64, nonce: u64) -> Transaction {
    Transaction {
        chain_id,
        sender: PublicKey([7; 32]),
        nonce,
        ref_block: RefBlock::default(),
        max_fee: 1000 as Amount,
        payload: Payload::Transfer {
            to: Address([9; 32]),
            amount: 5,
        },
        signature: Signature([1; 64]),
    }
}

pub fn block(
    chain_id: u64,
    height: Height,
    parent_hash: Hash,
    transactions: Vec<Transaction>,
) -> Block {
    Block {
        header: Header {
            chain_id,
            height,
            parent_hash,
            timestamp_ms: 1_000 * height,
            proposer: PublicKey([3; 32]),
            tx_root: Hash::ZERO,
            state_root: Hash([height as u8; 32]),
            receipts_root: Hash::ZERO,
            consensus: vec![height as u8; 16],
            signature: Signature([4; 64]),
        },
        transactions,
    }
}

pub struct Node {
    pub handle: NetworkHandle,
    pub events: Receiver<NetworkEvent>,
    /// Where others reach it, with `/p2p/<id>`.
    pub addr: Multiaddr,
    pub id: PeerId,
}

/// A test configuration: loopback, port 0, quick discovery.
pub fn config(chain_id: u64, seed: u8, bootstrap: Vec<Multiaddr>) -> NetworkConfig {
    let mut cfg = NetworkConfig::new(
        chain_id,
        [seed; 32],
        "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"),
        bootstrap,
    );
    cfg.discovery_interval = Duration::from_millis(500);
    cfg.request_timeout = Duration::from_secs(10);
    cfg
}

pub async fn start(cfg: NetworkConfig, provider: Arc<dyn SyncProvider>) -> Node {
    let (handle, events) = Network::start(cfg, provider).await.expect("network starts");
    node(handle, events).await
}

/// Starts a node that stores content through `content`.
pub async fn start_content(
    cfg: NetworkConfig,
    provider: Arc<dyn SyncProvider>,
    content: Arc<dyn umbra_network::ContentProvider>,
) -> Node {
    let (handle, events) = Network::start_with_content(cfg, provider, Some(content))
        .await
        .expect("network starts");
    node(handle, events).await
}

async fn node(handle: NetworkHandle, events: Receiver<NetworkEvent>) -> Node {
    let id = handle.local_peer_id();
    let listen = handle.listen_addrs().await.expect("listen addrs");
    let listen = listen.into_iter().next().expect("listening on an address");
    let addr = umbra_network::peer_addr(&listen, id);
    Node {
        handle,
        events,
        addr,
        id,
    }
}

/// Polls `check` until it returns `Some` or `WAIT` passes.
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Receives events until one satisfies `pick`, failing after `WAIT`.
pub async fn next_event<T>(
    node: &mut Node,
    what: &str,
    mut pick: impl FnMut(&NetworkEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = tokio::time::timeout_at(deadline, node.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("event channel closed while waiting for {what}"));
        if let Some(v) = pick(&ev) {
            return v;
        }
    }
}

/// Whether `node` is connected to every peer in `others` and sees each
/// subscribed to gossip.
pub async fn gossips_with(node: &Node, others: &[PeerId]) -> bool {
    let peers = node.handle.peers().await.expect("peers");
    others
        .iter()
        .all(|o| peers.iter().any(|p| p.id == *o && p.gossip))
}

/// Whether `node` is connected to `other` at all.
pub async fn connected(node: &Node, other: PeerId) -> bool {
    node.handle
        .peers()
        .await
        .expect("peers")
        .iter()
        .any(|p| p.id == other)
}

/// Starts node 1 and nodes 2 and 3 bootstrapping from it, and waits until
/// all three gossip with each other (2 and 3 must find each other through
/// the DHT).
pub async fn three_nodes(chain_id: u64, seed: u8, provider: Arc<dyn SyncProvider>) -> [Node; 3] {
    let n1 = start(config(chain_id, seed, vec![]), provider.clone()).await;
    let n2 = start(
        config(chain_id, seed + 1, vec![n1.addr.clone()]),
        provider.clone(),
    )
    .await;
    let n3 = start(config(chain_id, seed + 2, vec![n1.addr.clone()]), provider).await;
    let ids = [n1.id, n2.id, n3.id];
    for (i, node) in [&n1, &n2, &n3].into_iter().enumerate() {
        let others: Vec<PeerId> = ids
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, p)| *p)
            .collect();
        wait_for("full mesh of three nodes", || async {
            gossips_with(node, &others).await.then_some(())
        })
        .await;
    }
    [n1, n2, n3]
}
