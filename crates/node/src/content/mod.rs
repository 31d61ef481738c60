//! The storage-node role (PDFS): a local block store, the checks that keep
//! it to content someone paid for, replication to the K registered storage
//! nodes closest to each block, retrieval from any holder, repair and
//! garbage collection, and the HTTP gateway that clients upload through and
//! browsers stream from.
//!
//! What a block or manifest *is* (encoding, encryption, ids) lives in
//! `umbra-pdfs`; what content is allocated and who stores it lives on chain
//! (`umbra_runtime::storage`). This module only wires the two to the disk,
//! the network and HTTP.

mod chain_view;
mod error;
mod fetch;
pub mod gateway;
mod placement;
mod register;
mod repair;
mod serve;
mod staging;
mod upload;

pub use error::ContentError;
pub use register::ensure_registered;
pub use repair::spawn_maintenance;
pub use serve::Provider;
pub use staging::{DEFAULT_STAGE_IDLE, STAGE_MAX_AGE, StageOpened, StagedBlock, StagingStatus};
pub use upload::Placed;

use crate::chain::Chain;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use umbra_network::{NetworkHandle, PeerId};
use umbra_pdfs::BlockStore;
use umbra_types::{Hash, MerkleTree};

/// Where and how much a storage node stores.
#[derive(Clone, Debug)]
pub struct StorageSettings {
    pub dir: PathBuf,
    /// Most bytes of blocks kept on disk.
    pub capacity: u64,
    /// How often upkeep runs (repair, provider records, garbage collection).
    pub upkeep_every: std::time::Duration,
    /// How long an upload staged before its allocation may sit unused
    /// before it is dropped.
    pub stage_idle: std::time::Duration,
}

/// Most content trees (and decoded manifests) kept; a tree is about 64
/// bytes per block, so 16 trees of the largest content are ~64 MiB.
const MAX_CACHED_TREES: usize = 16;

/// The node's content side. Cheap to share (`Arc`).
pub struct ContentService {
    store: Arc<BlockStore>,
    chain: Arc<Chain>,
    /// Set once the network is up (it needs this service to start).
    network: OnceLock<NetworkHandle>,
    /// This node's libp2p identity, as registered on chain.
    me: PeerId,
    /// Merkle trees of contents being uploaded or repaired, by content id.
    trees: Mutex<HashMap<Hash, Arc<MerkleTree>>>,
    /// (content, peer) pairs whose manifest the peer already has, so an
    /// upload sends each manifest once per peer.
    manifests_sent: Mutex<BTreeSet<(Hash, PeerId)>>,
    /// Decoded manifests by content id: every block of an upload or a
    /// download needs its content's manifest, and decoding one (with its
    /// id check) costs milliseconds for large content.
    manifests: Mutex<HashMap<Hash, Arc<umbra_pdfs::Manifest>>>,
    /// The live storage nodes, looked up at most once a second: an upload
    /// asks for every block.
    live_cache: Mutex<Option<(std::time::Instant, Vec<chain_view::Registered>)>>,
    /// Uploads staged before their content is allocated.
    staging: Mutex<staging::Staging>,
}

impl ContentService {
    pub fn open(
        settings: &StorageSettings,
        chain: Arc<Chain>,
        me: PeerId,
    ) -> Result<Arc<Self>, ContentError> {
        let store = BlockStore::open(&settings.dir, settings.capacity)?;
        tracing::info!(
            target: "umbra::storage",
            dir = %settings.dir.display(),
            used = store.used_bytes(),
            capacity = store.capacity_bytes(),
            blocks = store.block_count(),
            "block store opened"
        );
        Ok(Arc::new(ContentService {
            store: Arc::new(store),
            chain,
            network: OnceLock::new(),
            me,
            trees: Mutex::new(HashMap::new()),
            manifests_sent: Mutex::new(BTreeSet::new()),
            live_cache: Mutex::new(None),
            manifests: Mutex::new(HashMap::new()),
            staging: Mutex::new(staging::Staging::new(settings.stage_idle)),
        }))
    }

    pub fn store(&self) -> &BlockStore {
        &self.store
    }

    pub fn peer_id(&self) -> PeerId {
        self.me
    }

    pub fn network(&self) -> Option<&NetworkHandle> {
        self.network.get()
    }

    /// Connects the service to the node's network (once).
    pub fn set_network(&self, net: NetworkHandle) {
        let _ = self.network.set(net);
    }

    /// The stored manifest of `id`, decoded once.
    pub(crate) fn manifest(
        &self,
        id: &Hash,
    ) -> Result<Option<Arc<umbra_pdfs::Manifest>>, ContentError> {
        if let Some(m) = self.manifests.lock().get(id) {
            return Ok(Some(m.clone()));
        }
        let Some(m) = self.store.manifest(id)? else {
            return Ok(None);
        };
        let m = Arc::new(m);
        self.remember_manifest(id, m.clone());
        Ok(Some(m))
    }

    fn remember_manifest(&self, id: &Hash, m: Arc<umbra_pdfs::Manifest>) {
        let mut cache = self.manifests.lock();
        if cache.len() >= MAX_CACHED_TREES {
            cache.clear();
        }
        cache.insert(*id, m);
    }

    /// Stores a checked manifest and keeps it decoded.
    pub(crate) fn keep_manifest(
        &self,
        id: &Hash,
        m: umbra_pdfs::Manifest,
    ) -> Result<Arc<umbra_pdfs::Manifest>, ContentError> {
        self.store.put_manifest(&m)?;
        let m = Arc::new(m);
        self.remember_manifest(id, m.clone());
        Ok(m)
    }

    /// Forgets decoded manifests (after garbage collection removed some).
    pub(crate) fn forget_manifests(&self) {
        self.manifests.lock().clear();
    }

    /// The Merkle tree of content `id` (whose manifest is `manifest`).
    fn tree(&self, id: &Hash, manifest: &umbra_pdfs::Manifest) -> Arc<MerkleTree> {
        let mut trees = self.trees.lock();
        if let Some(t) = trees.get(id) {
            return t.clone();
        }
        if trees.len() >= MAX_CACHED_TREES {
            trees.clear();
        }
        let t = Arc::new(MerkleTree::new(&manifest.block_ids));
        trees.insert(*id, t.clone());
        t
    }
}

/// Runs CPU or disk work (hashing, writing a block) on the blocking pool.
pub(crate) async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ContentError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ContentError::Unavailable {
            what: format!("a worker thread ({e})"),
        })
}
