//! What the content side reads from chain state: allocations and the
//! registered storage nodes, as of the current head.

use super::{ContentError, ContentService};
use umbra_network::PeerId;
use umbra_pdfs::Manifest;
use umbra_types::{Allocation, Hash};

/// A registered storage node as placement sees it.
#[derive(Clone, Debug)]
pub(crate) struct Registered {
    pub peer: PeerId,
    /// Its position in the XOR keyspace.
    pub key: Hash,
    pub addrs: Vec<String>,
}

impl ContentService {
    /// The allocation of `id`, refusing content that is missing or expired
    /// at the head block's time.
    pub fn live_allocation(&self, id: &Hash) -> Result<Allocation, ContentError> {
        let head = self.chain.head();
        let state = self.chain.store().state_at(head.height);
        let alloc = umbra_runtime::storage::allocation(&state, id)
            .map_err(|e| ContentError::State(e.to_string()))?
            .ok_or(ContentError::NotAllocated(*id))?;
        if alloc.expires_ms <= head.timestamp_ms {
            return Err(ContentError::Expired(*id));
        }
        Ok(alloc)
    }

    /// Whether content `id` is still allocated and unexpired (for garbage
    /// collection: a state error keeps the content, to be safe).
    pub(crate) fn is_live(&self, id: &Hash) -> bool {
        match self.live_allocation(id) {
            Ok(_) => true,
            Err(ContentError::NotAllocated(_) | ContentError::Expired(_)) => false,
            Err(_) => true,
        }
    }

    /// Checks a manifest against the chain: it must describe allocated,
    /// unexpired content with the allocated size, block count and privacy.
    pub(crate) fn check_manifest(
        &self,
        id: &Hash,
        manifest: &Manifest,
    ) -> Result<Allocation, ContentError> {
        let alloc = self.live_allocation(id)?;
        let mismatch = |reason: String| ContentError::ManifestMismatch { id: *id, reason };
        if manifest.size != alloc.size {
            return Err(mismatch(format!(
                "size {} but {} allocated",
                manifest.size, alloc.size
            )));
        }
        if manifest.block_count() != alloc.blocks {
            return Err(mismatch(format!(
                "{} blocks but {} allocated",
                manifest.block_count(),
                alloc.blocks
            )));
        }
        let public = manifest.scheme == umbra_pdfs::Scheme::Public;
        if public != alloc.public {
            return Err(mismatch(format!(
                "the manifest says {} but the allocation says {}",
                if public { "public" } else { "encrypted" },
                if alloc.public { "public" } else { "encrypted" },
            )));
        }
        Ok(alloc)
    }

    /// Every registered storage node with a usable peer id.
    pub(crate) fn registered(&self) -> Result<Vec<Registered>, ContentError> {
        let head = self.chain.head();
        let state = self.chain.store().state_at(head.height);
        let nodes = umbra_runtime::storage::storage_nodes(&state)
            .map_err(|e| ContentError::State(e.to_string()))?;
        Ok(nodes
            .into_iter()
            .filter_map(|n| {
                let peer = PeerId::from_bytes(&n.peer_id).ok()?;
                Some(Registered {
                    peer,
                    key: umbra_pdfs::node_key(&n.peer_id),
                    addrs: n.addrs,
                })
            })
            .collect())
    }
}
