//! Which storage nodes hold a block: the K registered nodes closest to its
//! id by XOR distance, among those that are up (this node, or a peer we are
//! connected to). A node that vanishes drops out of the set, the next
//! closest takes its place, and repair fills it.

use super::chain_view::Registered;
use super::{ContentError, ContentService};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use umbra_network::PeerId;
use umbra_types::Hash;

const LIVE_CACHE_FOR: Duration = Duration::from_secs(1);

impl ContentService {
    /// Registered storage nodes that are reachable now (looked up at most
    /// once a second).
    pub(crate) async fn live_nodes(&self) -> Result<Vec<Registered>, ContentError> {
        if let Some((at, nodes)) = &*self.live_cache.lock()
            && at.elapsed() < LIVE_CACHE_FOR
        {
            return Ok(nodes.clone());
        }
        let nodes = self.look_up_live_nodes().await?;
        *self.live_cache.lock() = Some((Instant::now(), nodes.clone()));
        Ok(nodes)
    }

    async fn look_up_live_nodes(&self) -> Result<Vec<Registered>, ContentError> {
        let registered = self.registered()?;
        let connected: BTreeSet<PeerId> = match self.network.get() {
            Some(net) => net
                .peers()
                .await
                .map_err(|e| ContentError::Network(e.to_string()))?
                .into_iter()
                .map(|p| p.id)
                .collect(),
            None => BTreeSet::new(),
        };
        Ok(registered
            .into_iter()
            .filter(|r| r.peer == self.me || connected.contains(&r.peer))
            .collect())
    }

    /// Helps a request reach a registered node we are not connected to.
    pub(crate) async fn learn_addresses(&self) {
        let (Some(net), Ok(registered)) = (self.network.get(), self.registered()) else {
            return;
        };
        for r in registered.iter().filter(|r| r.peer != self.me) {
            for a in &r.addrs {
                if let Ok(addr) = a.parse() {
                    let _ = net.add_peer_address(r.peer, addr).await;
                }
            }
        }
    }
}

/// The `k` nodes of `nodes` closest to `target`, closest first.
pub(crate) fn closest(target: &Hash, nodes: &[Registered], k: usize) -> Vec<Registered> {
    let keys: Vec<Hash> = nodes.iter().map(|n| n.key).collect();
    umbra_pdfs::closest(target, &keys, k)
        .into_iter()
        .filter_map(|i| nodes.get(i).cloned())
        .collect()
}
