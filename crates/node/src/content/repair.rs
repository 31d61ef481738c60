//! Upkeep, on a timer: announce what this node provides, put every held
//! block back on its K closest live nodes when one has vanished, and drop
//! content whose allocation expired or was collected.

use super::placement::closest;
use super::{ContentError, ContentService};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use umbra_network::{ContentRequest, ContentResponse, PeerId};
use umbra_types::Hash;

/// Most ids in one `HasBlocks` question (the protocol's limit).
const HAS_BATCH: usize = 1024;

/// Runs upkeep every `every` until the returned handle is aborted.
pub fn spawn_maintenance(
    service: Arc<ContentService>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut announced = BTreeSet::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = ContentService::upkeep(&service, &mut announced).await {
                tracing::warn!(target: "umbra::storage", error = %e, "storage upkeep failed");
            }
        }
    })
}

/// What one round of upkeep did.
#[derive(Debug, Default)]
pub struct UpkeepReport {
    pub copies_made: usize,
    pub contents_collected: usize,
    pub blocks_collected: usize,
}

impl ContentService {
    async fn upkeep(
        self: &Arc<Self>,
        announced: &mut BTreeSet<Hash>,
    ) -> Result<UpkeepReport, ContentError> {
        self.learn_addresses().await;
        let mut report = UpkeepReport::default();

        // Reads every manifest and may delete many files: off the async
        // threads.
        // Staged blocks are spared while their session is open; adopted
        // sessions end here, before the collection reads the manifests.
        let staging = self.staging.lock().sweep();
        let me = self.clone();
        let gc = tokio::task::spawn_blocking(move || {
            me.store
                .collect_except(|id| me.is_live(id), |b| me.staging.lock().pinned(b))
        })
        .await
        .map_err(|e| ContentError::State(format!("garbage collection stopped: {e}")))??;
        report.contents_collected = gc.contents as usize;
        report.blocks_collected = gc.blocks as usize;
        if staging > 0 {
            tracing::debug!(target: "umbra::storage", sessions = staging, "uploads staged");
        }
        if gc.contents > 0 {
            self.forget_manifests();
            tracing::info!(target: "umbra::storage", contents = gc.contents, blocks = gc.blocks, bytes = gc.bytes, "collected expired content");
        }

        let contents = self.store.contents()?;
        if let Some(net) = self.network.get() {
            let held: BTreeSet<Hash> = contents.iter().copied().collect();
            for id in announced.difference(&held).copied().collect::<Vec<_>>() {
                let _ = net.stop_providing(id).await;
                announced.remove(&id);
            }
            for id in held.difference(announced).copied().collect::<Vec<_>>() {
                if net.start_providing(id).await.is_ok() {
                    announced.insert(id);
                }
            }
        }
        for id in contents {
            report.copies_made += self.repair_content(&id).await?;
        }
        if report.copies_made > 0 {
            tracing::info!(target: "umbra::storage", copies = report.copies_made, "re-replicated blocks");
        }
        Ok(report)
    }

    /// Makes sure each block of `id` this node holds is on its K closest
    /// live nodes; returns the copies it had to make.
    async fn repair_content(&self, id: &Hash) -> Result<usize, ContentError> {
        if self.network.get().is_none() {
            return Ok(0);
        }
        let Ok(alloc) = self.live_allocation(id) else {
            return Ok(0);
        };
        let Some(manifest) = self.manifest(id)? else {
            return Ok(0);
        };
        let live = self.live_nodes().await?;
        let k = usize::from(alloc.replicas);
        // Which peer should hold which of the blocks we have.
        let mut due: BTreeMap<PeerId, Vec<(u64, Hash)>> = BTreeMap::new();
        for (index, block_id) in manifest.block_ids.iter().enumerate() {
            if !self.store.has(block_id) {
                continue;
            }
            for t in closest(block_id, &live, k) {
                if t.peer != self.me {
                    due.entry(t.peer)
                        .or_default()
                        .push((index as u64, *block_id));
                }
            }
        }
        let mut made = 0;
        for (peer, blocks) in due {
            for batch in blocks.chunks(HAS_BATCH) {
                let ids = batch.iter().map(|(_, b)| *b).collect();
                let Some(net) = self.network.get() else { break };
                let has = match net
                    .content_request(peer, ContentRequest::HasBlocks { ids })
                    .await
                {
                    Ok(ContentResponse::Has(has)) => has,
                    _ => continue,
                };
                for (&(index, block_id), present) in batch.iter().zip(has) {
                    if present {
                        continue;
                    }
                    let Some(data) = self.store.get(&block_id)? else {
                        continue;
                    };
                    if self.push_block(peer, id, &manifest, index, data).await {
                        made += 1;
                    }
                }
            }
        }
        Ok(made)
    }
}
