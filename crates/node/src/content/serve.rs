//! Answers other nodes' content requests: stores blocks and manifests of
//! allocated content, serves what this node holds.

use super::{ContentError, ContentService};
use std::sync::Arc;
use umbra_network::{ContentProvider, ContentRequest, ContentResponse, PeerId};
use umbra_pdfs::Manifest;
use umbra_types::{Hash, MerkleProof};

/// The network-facing side of a [`ContentService`].
pub struct Provider(pub Arc<ContentService>);

impl ContentProvider for Provider {
    fn handle(&self, peer: PeerId, request: ContentRequest) -> ContentResponse {
        let s = &self.0;
        match request {
            ContentRequest::PutBlock {
                content_id,
                index,
                proof,
                data,
            } => answer(
                s.accept_pushed_block(&content_id, index, &proof, &data),
                peer,
            ),
            ContentRequest::PutManifest {
                content_id,
                manifest,
            } => answer(s.accept_manifest(&content_id, &manifest).map(|_| ()), peer),
            ContentRequest::GetBlock { id } => match s.store.get(&id) {
                Ok(b) => ContentResponse::Block(b),
                Err(e) => {
                    tracing::warn!(target: "umbra::storage", block = %id, error = %e, "cannot read a block");
                    ContentResponse::Block(None)
                }
            },
            ContentRequest::HasBlocks { ids } => {
                ContentResponse::Has(ids.iter().map(|id| s.store.has(id)).collect())
            }
            ContentRequest::GetManifest { content_id } => match s.manifest(&content_id) {
                Ok(m) => ContentResponse::Manifest(m.map(|m| m.encode())),
                Err(_) => ContentResponse::Manifest(None),
            },
        }
    }
}

fn answer(r: Result<(), ContentError>, peer: PeerId) -> ContentResponse {
    match r {
        Ok(()) => ContentResponse::Stored,
        Err(e) => {
            tracing::debug!(target: "umbra::storage", %peer, error = %e, "refused a content upload");
            let mut reason = e.to_string();
            reason.truncate(200);
            ContentResponse::Refused(reason)
        }
    }
}

impl ContentService {
    /// Takes a manifest (from a client or a peer) after checking it hashes
    /// to `id` and matches the allocation on chain.
    pub fn accept_manifest(&self, id: &Hash, bytes: &[u8]) -> Result<Arc<Manifest>, ContentError> {
        let manifest = Manifest::decode(bytes)?;
        if manifest.content_id() != *id {
            return Err(ContentError::ManifestMismatch {
                id: *id,
                reason: "its blocks do not hash to this content id".into(),
            });
        }
        self.check_manifest(id, &manifest)?;
        self.keep_manifest(id, manifest)
    }

    /// A block another node pushes: it must belong to allocated, unexpired
    /// content (the Merkle proof ties it to the content id, the manifest we
    /// hold to its index) before it touches the disk.
    fn accept_pushed_block(
        &self,
        id: &Hash,
        index: u64,
        proof: &MerkleProof,
        data: &[u8],
    ) -> Result<(), ContentError> {
        let alloc = self.live_allocation(id)?;
        if index >= alloc.blocks || proof.index != index || proof.leaf_count != alloc.blocks {
            return Err(ContentError::NoSuchBlock {
                id: *id,
                index,
                blocks: alloc.blocks,
            });
        }
        if data.len() > umbra_pdfs::MAX_STORED_BLOCK {
            return Err(ContentError::WrongBlock { id: *id, index });
        }
        let manifest = self.manifest(id)?.ok_or(ContentError::NoManifest(*id))?;
        // The manifest we hold was checked against the id; the proof ties
        // the pushed index to it, and the store hashes the bytes once.
        let block_id = *manifest
            .block_ids
            .get(index as usize)
            .ok_or(ContentError::WrongBlock { id: *id, index })?;
        if !proof.verify(&block_id, id) {
            return Err(ContentError::WrongBlock { id: *id, index });
        }
        match self.store.put(&block_id, data) {
            Ok(_) => Ok(()),
            Err(umbra_pdfs::PdfsError::HashMismatch { .. }) => {
                Err(ContentError::WrongBlock { id: *id, index })
            }
            Err(e) => Err(e.into()),
        }
    }
}
