//! Uploads through this node: a client hands over a manifest, then the
//! blocks; each block goes to the K live storage nodes closest to its id
//! (this node among them or not).

use super::placement::closest;
use super::{ContentError, ContentService, off_thread};
use bytes::Bytes;
use futures::future::join_all;
use std::sync::Arc;
use umbra_network::{ContentRequest, ContentResponse, PeerId};
use umbra_types::{Hash, sha256_parts};

/// Most (content, peer) manifest deliveries remembered.
const MAX_REMEMBERED_SENDS: usize = 65_536;

/// What happened to one uploaded block.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Placed {
    /// Copies that are now stored (of a staged upload: the fewest of any
    /// block placed).
    pub replicas: usize,
    /// Copies the allocation asked for.
    pub wanted: usize,
    /// Blocks of a staged upload this node does not hold, by index: the
    /// client uploads them the ordinary way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u64>,
}

impl ContentService {
    /// Stores a client's manifest here and on the nodes that will be asked
    /// for it (the K live nodes closest to the content id).
    pub async fn upload_manifest(&self, id: &Hash, bytes: &[u8]) -> Result<Placed, ContentError> {
        let manifest = self.accept_manifest(id, bytes)?;
        let alloc = self.live_allocation(id)?;
        let live = self.live_nodes().await?;
        let wanted = usize::from(alloc.replicas);
        let targets = closest(id, &live, wanted);
        let mut replicas = 1;
        let pushes = targets
            .iter()
            .filter(|t| t.peer != self.me)
            .map(|t| self.push_manifest(t.peer, id, &manifest));
        for ok in join_all(pushes).await {
            replicas += usize::from(ok);
        }
        Ok(Placed {
            replicas,
            wanted,
            missing: Vec::new(),
        })
    }

    async fn push_manifest(
        &self,
        peer: PeerId,
        id: &Hash,
        manifest: &umbra_pdfs::Manifest,
    ) -> bool {
        if self.manifests_sent.lock().contains(&(*id, peer)) {
            return true;
        }
        let manifest = manifest.encode();
        let ok = self
            .request_ok(
                peer,
                ContentRequest::PutManifest {
                    content_id: *id,
                    manifest,
                },
            )
            .await;
        if ok {
            let mut sent = self.manifests_sent.lock();
            // Only a saving (a peer that lacks the manifest refuses the
            // block and gets it again), so forgetting it all is safe.
            if sent.len() >= MAX_REMEMBERED_SENDS {
                sent.clear();
            }
            sent.insert((*id, peer));
        }
        ok
    }

    /// The manifest of `id`, its block `index`'s id and the allocation, if
    /// this node takes that block: the manifest is here, the block is in it,
    /// and the content is allocated and unexpired. Checked before an
    /// upload's body is read, and again when it has been.
    pub fn block_upload_allowed(
        &self,
        id: &Hash,
        index: u64,
    ) -> Result<(Arc<umbra_pdfs::Manifest>, Hash, umbra_types::Allocation), ContentError> {
        let manifest = self.manifest(id)?.ok_or(ContentError::NoManifest(*id))?;
        let block_id =
            *manifest
                .block_ids
                .get(index as usize)
                .ok_or(ContentError::NoSuchBlock {
                    id: *id,
                    index,
                    blocks: manifest.block_count(),
                })?;
        let alloc = self.live_allocation(id)?;
        Ok((manifest, block_id, alloc))
    }

    /// Places block `index` of content `id`, given as the frames it was
    /// uploaded in, on its K nodes.
    pub async fn upload_block(
        &self,
        id: &Hash,
        index: u64,
        frames: Vec<Bytes>,
    ) -> Result<Placed, ContentError> {
        let (manifest, block_id, alloc) = self.block_upload_allowed(id, index)?;
        if frames.iter().map(Bytes::len).sum::<usize>() > umbra_pdfs::MAX_STORED_BLOCK {
            return Err(ContentError::WrongBlock { id: *id, index });
        }
        let wanted = usize::from(alloc.replicas);
        let live = self.live_nodes().await?;
        if live.is_empty() {
            return Err(ContentError::NoStorageNodes);
        }
        let targets = closest(&block_id, &live, wanted);
        // The local store checks the hash as it stores; without a local
        // copy, check here before sending the block anywhere.
        let frames = Arc::new(frames);
        if !targets.iter().any(|t| t.peer == self.me) {
            let f = frames.clone();
            let hashed = off_thread(move || sha256_parts(&slices(&f))).await?;
            if hashed != block_id {
                return Err(ContentError::WrongBlock { id: *id, index });
            }
        }
        let mut replicas = 0;
        let mut remote = Vec::new();
        for t in &targets {
            if t.peer == self.me {
                // Hashing and writing 256 KiB: off the async threads, so
                // the gateway keeps receiving while blocks are stored.
                let (store, f) = (self.store.clone(), frames.clone());
                match off_thread(move || store.put_parts(&block_id, &slices(&f))).await? {
                    Ok(_) => replicas += 1,
                    Err(umbra_pdfs::PdfsError::HashMismatch { .. }) => {
                        return Err(ContentError::WrongBlock { id: *id, index });
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                remote.push(t.peer);
            }
        }
        if !remote.is_empty() {
            let data = frames.concat();
            let pushes = remote
                .iter()
                .map(|&peer| self.push_block(peer, id, &manifest, index, data.clone()));
            replicas += join_all(pushes).await.into_iter().filter(|ok| *ok).count();
        }
        if replicas == 0 {
            return Err(ContentError::Unavailable {
                what: format!("a place for block {index} of {id}"),
            });
        }
        Ok(Placed {
            replicas,
            wanted,
            missing: Vec::new(),
        })
    }

    /// Sends block `index` of `id` (with its proof, and the manifest first
    /// if this peer has not had it from us); true if the peer stored it.
    pub(crate) async fn push_block(
        &self,
        peer: PeerId,
        id: &Hash,
        manifest: &umbra_pdfs::Manifest,
        index: u64,
        data: Vec<u8>,
    ) -> bool {
        let Some(proof) = self.tree(id, manifest).proof(index as usize) else {
            return false;
        };
        if !self.push_manifest(peer, id, manifest).await {
            return false;
        }
        let ok = self
            .request_ok(
                peer,
                ContentRequest::PutBlock {
                    content_id: *id,
                    index,
                    proof,
                    data,
                },
            )
            .await;
        if !ok {
            // The peer may have lost the manifest (a wiped disk, garbage
            // collection): send it again next time.
            self.manifests_sent.lock().remove(&(*id, peer));
        }
        ok
    }

    /// Sends a store request; true if the peer stored it.
    pub(crate) async fn request_ok(&self, peer: PeerId, req: ContentRequest) -> bool {
        let Some(net) = self.network.get() else {
            return false;
        };
        match net.content_request(peer, req).await {
            Ok(ContentResponse::Stored) => true,
            Ok(ContentResponse::Refused(why)) => {
                tracing::warn!(target: "umbra::storage", %peer, %why, "a storage node refused a block");
                false
            }
            Ok(_) => {
                tracing::debug!(target: "umbra::storage", %peer, "unexpected answer to a store request");
                false
            }
            Err(e) => {
                tracing::debug!(target: "umbra::storage", %peer, error = %e, "store request failed");
                false
            }
        }
    }
}

/// The frames of an upload as the slices the store and hasher take.
fn slices(frames: &[Bytes]) -> Vec<&[u8]> {
    frames.iter().map(|f| &f[..]).collect()
}
