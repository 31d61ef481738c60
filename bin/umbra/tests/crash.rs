//! `kill -9` under load loses no committed block and no included transaction.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use umbra_crypto::dev_keypair;
use umbra_rpc::{RpcClient, TxState};
use umbra_types::{Hash, Payload, RefBlock, UnsignedTransaction, encode};

/// Sends transfers from several dev accounts until told to stop, recording
/// every transaction the RPC reported as included, with its block.
async fn load(
    url: String,
    chain_id: u64,
    stop: Arc<AtomicBool>,
    included: Arc<Mutex<BTreeMap<Hash, (u64, Hash)>>>,
) {
    let Ok(c) = RpcClient::new(&url) else { return };
    let senders = ["alice", "bob", "carol", "dave"].map(dev_keypair);
    let mut nonces = [0u64; 4];
    let mut pending: Vec<Hash> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Ok(head) = c.head().await else { break };
        for (i, k) in senders.iter().enumerate() {
            let tx = k.sign_transaction(UnsignedTransaction {
                chain_id,
                sender: k.public(),
                nonce: nonces[i],
                ref_block: RefBlock::new(head.height, &head.hash),
                max_fee: 1_000_000,
                payload: Payload::Transfer {
                    to: senders[(i + 1) % 4].address(),
                    amount: 1_000,
                },
            });
            match c.submit(hex::encode(encode(&tx))).await {
                Ok(h) => {
                    nonces[i] += 1;
                    pending.push(h);
                }
                Err(_) => return,
            }
        }
        let mut still = Vec::new();
        for h in pending.drain(..) {
            match c.tx(&h).await {
                Ok(l) if l.status == TxState::Included => {
                    included.lock().unwrap().insert(
                        h,
                        (
                            l.block_height.unwrap_or(0),
                            l.block_hash.unwrap_or_default(),
                        ),
                    );
                }
                Ok(_) => still.push(h),
                Err(_) => return,
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn kill_9_under_load_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chain");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let included = Arc::new(Mutex::new(BTreeMap::new()));
    let mut last_height = 0;
    for round in 0..3 {
        let mut d = Devnet::start(&dir, 100);
        let h = d.height();
        assert!(
            h >= last_height,
            "round {round}: height {h} below {last_height} before the crash"
        );
        let chain_id = d.banner["chain_id"].as_u64().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let task = rt.spawn(load(
            d.url.clone(),
            chain_id,
            stop.clone(),
            included.clone(),
        ));
        // Let load build up, then kill mid-flight.
        d.wait_height(h + 8 + round, Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(37 * (round + 1)));
        d.kill9();
        stop.store(true, Ordering::SeqCst);
        let _ = rt.block_on(task);
        last_height = h;

        // Restart: every transaction reported included is still there, in the same block.
        let d = Devnet::start(&dir, 100);
        let c = RpcClient::new(&d.url).unwrap();
        let seen = included.lock().unwrap().clone();
        assert!(
            !seen.is_empty() || round > 0,
            "the load produced no included transactions"
        );
        for (tx, (height, block)) in &seen {
            let l = rt
                .block_on(c.tx(tx))
                .unwrap_or_else(|e| panic!("tx {tx} lost after kill -9: {e}"));
            assert_eq!(l.status, TxState::Included);
            assert_eq!(
                (l.block_height.unwrap(), l.block_hash.unwrap()),
                (*height, *block)
            );
        }
        // The chain is intact: every block links to its parent.
        let head = d.height();
        let mut parent = rt.block_on(c.block(0.into())).unwrap().header.hash;
        for n in 1..=head {
            let b = rt.block_on(c.block(n.into())).unwrap();
            assert_eq!(b.header.parent_hash, parent, "block {n} does not link");
            parent = b.header.hash;
        }
        // And it keeps producing.
        d.wait_height(head + 3, Duration::from_secs(30));
        last_height = last_height.max(head);
    }
}
