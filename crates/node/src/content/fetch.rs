//! Retrieval: from this node's disk if it holds the data, otherwise from the
//! live storage nodes closest to it, then from whoever Kademlia lists as a
//! provider of the content. Every answer is checked against its hash, so a
//! node that serves a corrupted block is simply skipped.

use super::placement::closest;
use super::{ContentError, ContentService, off_thread};
use std::sync::Arc;
use umbra_network::{ContentRequest, ContentResponse, PeerId};
use umbra_pdfs::Manifest;
use umbra_types::Hash;

impl ContentService {
    /// The manifest of content `id`, checked against the id.
    pub async fn fetch_manifest(&self, id: &Hash) -> Result<Arc<Manifest>, ContentError> {
        if let Some(m) = self.manifest(id)? {
            return Ok(m);
        }
        for peer in self.candidates(id).await? {
            let req = ContentRequest::GetManifest { content_id: *id };
            let Some(ContentResponse::Manifest(Some(bytes))) = self.ask(peer, req).await else {
                continue;
            };
            match Manifest::decode(&bytes) {
                Ok(m) if m.content_id() == *id => {
                    // Kept so the blocks that follow need no second lookup;
                    // garbage collection drops it with the content.
                    return match self.keep_manifest(id, m.clone()) {
                        Ok(m) => Ok(m),
                        Err(_) => Ok(Arc::new(m)),
                    };
                }
                _ => {
                    tracing::warn!(target: "umbra::storage", %peer, content = %id, "a peer served a manifest that does not match its id");
                }
            }
        }
        Err(ContentError::Unavailable {
            what: format!("the manifest of {id}"),
        })
    }

    /// Stored bytes of block `index` of content `id`, hash-checked.
    pub async fn fetch_block(
        &self,
        id: &Hash,
        manifest: &Manifest,
        index: u64,
    ) -> Result<Vec<u8>, ContentError> {
        let block_id =
            *manifest
                .block_ids
                .get(index as usize)
                .ok_or(ContentError::NoSuchBlock {
                    id: *id,
                    index,
                    blocks: manifest.block_count(),
                })?;
        // Reading and re-hashing 256 KiB: off the async threads.
        let store = self.store.clone();
        if let Some(b) = off_thread(move || store.get(&block_id)).await?? {
            return Ok(b);
        }
        let mut tried = Vec::new();
        for peer in self.candidates(&block_id).await? {
            tried.push(peer);
            if let Some(b) = self.get_block_from(peer, &block_id).await {
                return Ok(b);
            }
        }
        if let Some(net) = self.network.get() {
            let providers = net.providers(*id).await.unwrap_or_default();
            for peer in providers.into_iter().filter(|p| !tried.contains(p)) {
                if let Some(b) = self.get_block_from(peer, &block_id).await {
                    return Ok(b);
                }
            }
        }
        Err(ContentError::Unavailable {
            what: format!("block {index} of {id}"),
        })
    }

    pub(crate) async fn get_block_from(&self, peer: PeerId, block_id: &Hash) -> Option<Vec<u8>> {
        match self
            .ask(peer, ContentRequest::GetBlock { id: *block_id })
            .await
        {
            // The network layer already checked that the block hashes to
            // its id (and penalised a peer whose answer did not).
            Some(ContentResponse::Block(Some(b))) => Some(b),
            _ => None,
        }
    }

    /// Live storage nodes other than this one, closest to `target` first.
    async fn candidates(&self, target: &Hash) -> Result<Vec<PeerId>, ContentError> {
        let live = self.live_nodes().await?;
        let n = live.len();
        Ok(closest(target, &live, n)
            .into_iter()
            .map(|r| r.peer)
            .filter(|p| *p != self.me)
            .collect())
    }

    async fn ask(&self, peer: PeerId, req: ContentRequest) -> Option<ContentResponse> {
        let net = self.network.get()?;
        match net.content_request(peer, req).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(target: "umbra::storage", %peer, error = %e, "content request failed");
                None
            }
        }
    }
}
