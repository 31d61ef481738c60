//! A storage node announces itself on chain (`StorageRegister`, locking the
//! chain's deposit) so that uploaders place blocks on it. The node does this
//! itself with its key, and again whenever its record is missing or its
//! addresses changed.

use crate::chain::Chain;
use crate::mempool::Mempool;
use crate::p2p::Outbound;
use crate::submit::admit;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use umbra_crypto::Keypair;
use umbra_network::PeerId;
use umbra_runtime::required_fee;
use umbra_types::{Payload, RefBlock, UnsignedTransaction};

/// How often the node checks its registration.
const CHECK_EVERY: Duration = Duration::from_secs(3);
/// How long to wait after a registration that was included but failed.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Keeps this node registered as a storage node; runs until aborted.
pub fn ensure_registered(
    chain: Arc<Chain>,
    mempool: Arc<Mutex<Mempool>>,
    key: Keypair,
    peer: PeerId,
    addrs: Vec<String>,
    outbound: Option<mpsc::Sender<Outbound>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut warned = false;
        // The last registration sent; nothing new is sent while it waits in
        // the mempool, and a failed one backs off.
        let mut pending: Option<umbra_types::Hash> = None;
        loop {
            let waiting = pending.is_some_and(|h| mempool.lock().get(&h).is_some());
            match registered(&chain, &key, &peer, &addrs) {
                Ok(true) => pending = None,
                Ok(false) if waiting => {}
                Ok(false) => {
                    if pending.take().is_some() {
                        tracing::warn!(target: "umbra::storage", "the storage registration did not take effect; trying again in a minute");
                        tokio::time::sleep(RETRY_AFTER_FAILURE).await;
                    }
                    match submit(&chain, &mempool, &key, &peer, &addrs) {
                        Ok(tx) => {
                            tracing::info!(target: "umbra::storage", %peer, "registering as a storage node");
                            pending = Some(tx.hash());
                            if let Some(out) = &outbound {
                                let _ = out.try_send(Outbound::Tx(tx));
                            }
                            warned = false;
                        }
                        Err(e) if !warned => {
                            tracing::warn!(target: "umbra::storage", error = %e, "cannot register as a storage node yet");
                            warned = true;
                        }
                        Err(_) => {}
                    }
                }
                Err(e) => {
                    tracing::debug!(target: "umbra::storage", error = %e, "cannot read the storage node table");
                }
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    })
}

fn registered(
    chain: &Chain,
    key: &Keypair,
    peer: &PeerId,
    addrs: &[String],
) -> Result<bool, String> {
    let state = chain.store().state_at(chain.head().height);
    let nodes = umbra_runtime::storage::storage_nodes(&state).map_err(|e| e.to_string())?;
    let me = key.address();
    let bytes = peer.to_bytes();
    Ok(nodes
        .iter()
        .any(|n| n.operator == me && n.peer_id == bytes && n.addrs == addrs))
}

fn submit(
    chain: &Chain,
    mempool: &Mutex<Mempool>,
    key: &Keypair,
    peer: &PeerId,
    addrs: &[String],
) -> Result<umbra_types::Transaction, String> {
    let head = chain.head();
    let account = chain.account(&key.address()).map_err(|e| e.to_string())?;
    let nonce = mempool.lock().pending_nonce(&key.address(), account.nonce);
    let unsigned = |max_fee| UnsignedTransaction {
        chain_id: chain.spec().chain_id,
        sender: key.public(),
        nonce,
        ref_block: RefBlock::new(head.height, &head.hash()),
        max_fee,
        payload: Payload::StorageRegister {
            peer_id: peer.to_bytes(),
            addrs: addrs.to_vec(),
        },
    };
    let fee = required_fee(chain.params(), &key.sign_transaction(unsigned(0)));
    let tx = key.sign_transaction(unsigned(fee));
    admit(chain, mempool, tx.clone()).map_err(|e| e.message)?;
    Ok(tx)
}
