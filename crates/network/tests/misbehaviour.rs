//! Bans for garbage and manual blocks (partitions).

mod common;

use common::*;
use std::sync::Arc;
use umbra_network::{GossipKind, NetworkError, NetworkEvent, Verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_publishing_garbage_blocks_gets_banned() {
    let chain = Arc::new(MemChain::new(201, 3));
    let [mut n1, n2, n3] = three_nodes(201, 40, chain).await;
    let bad = n3.id;

    // Distinct garbage each time (ids are content hashes); keep going until
    // node 1 bans the sender. Publishing may start failing once every peer
    // has banned it: that is fine.
    let banner = n3.handle.clone();
    let spam = tokio::spawn(async move {
        for i in 0u32..200 {
            let _ = banner
                .publish_raw(GossipKind::Block, format!("not a block {i}").into_bytes())
                .await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    next_event(&mut n1, "node 3 to be banned", |ev| match ev {
        NetworkEvent::PeerBanned(p) if *p == bad => Some(()),
        NetworkEvent::Block { .. } => panic!("garbage must not be delivered as a block"),
        _ => None,
    })
    .await;
    spam.abort();

    // Disconnected and kept out (discovery keeps trying to dial it).
    wait_for("node 3 to be disconnected from node 1", || async {
        (!connected(&n1, bad).await).then_some(())
    })
    .await;
    let peers = n1.handle.peers().await.expect("peers");
    assert!(peers.iter().all(|p| p.id != bad));
    assert!(
        peers.iter().any(|p| p.id == n2.id),
        "honest node 2 stays connected"
    );
    assert!(matches!(
        n1.handle.status(bad).await,
        Err(NetworkError::Blocked(p)) if p == bad
    ));
    for n in [&n1, &n2, &n3] {
        n.handle.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_peer_stops_messages_and_unblock_restores_them() {
    let chain: Arc<MemChain> = Arc::new(MemChain::new(202, 3));
    let a = start(config(202, 50, vec![]), chain.clone()).await;
    let mut b = start(config(202, 51, vec![a.addr.clone()]), chain).await;
    wait_for("a and b to gossip", || async {
        (gossips_with(&a, &[b.id]).await && gossips_with(&b, &[a.id]).await).then_some(())
    })
    .await;

    b.handle.block_peer(a.id).await.expect("block");
    wait_for("the partition", || async {
        (!connected(&a, b.id).await && !connected(&b, a.id).await).then_some(())
    })
    .await;
    // With the only peer blocked, a message has no way to b: publishing
    // finds nobody subscribed, on either side.
    assert!(matches!(
        a.handle.publish_tx(&tx(202, 1)).await,
        Err(NetworkError::NoPeers)
    ));
    assert!(matches!(
        b.handle.publish_tx(&tx(202, 2)).await,
        Err(NetworkError::NoPeers)
    ));
    assert!(matches!(
        b.handle.status(a.id).await,
        Err(NetworkError::Blocked(_))
    ));
    // Still partitioned after several discovery rounds: a keeps b in its DHT
    // and b keeps a as bootstrap peer, so both keep dialling. b refuses every
    // connection (a may glimpse one opening and closing: the block is
    // enforced by b), and nothing a publishes finds a way to b.
    let before = tokio::time::Instant::now();
    let mut nonce = 100;
    wait_for("a few discovery rounds", || {
        nonce += 1;
        let n = nonce;
        let (a, b) = (&a, &b);
        async move {
            assert!(!connected(b, a.id).await, "b let a in through a block");
            assert!(
                !gossips_with(a, &[b.id]).await,
                "a gossips with b through a block"
            );
            assert!(matches!(
                a.handle.publish_tx(&tx(202, n)).await,
                Err(NetworkError::NoPeers)
            ));
            (before.elapsed() > std::time::Duration::from_secs(3)).then_some(())
        }
    })
    .await;
    while let Ok(ev) = b.events.try_recv() {
        assert!(
            !matches!(ev, NetworkEvent::Transactions { .. }),
            "a transaction crossed the partition"
        );
    }

    b.handle.unblock_peer(a.id).await.expect("unblock");
    wait_for("a and b to gossip again", || async {
        (gossips_with(&a, &[b.id]).await && gossips_with(&b, &[a.id]).await).then_some(())
    })
    .await;
    let sent = tx(202, 3);
    a.handle
        .publish_tx(&sent)
        .await
        .expect("publish after unblock");
    let got = next_event(&mut b, "the transaction after unblock", |ev| match ev {
        NetworkEvent::Transactions { txs, .. } => Some(txs.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, vec![sent]);
    a.handle.shutdown().await.expect("shutdown");
    b.handle.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_whose_blocks_the_node_rejects_gets_banned() {
    let chain = Arc::new(MemChain::new(203, 3));
    let [mut n1, n2, n3] = three_nodes(203, 60, chain).await;
    let bad = n2.id;
    let sender = n2.handle.clone();
    let spam = tokio::spawn(async move {
        for h in 0u64..200 {
            // Well-formed blocks: only the node's verdict can condemn them.
            let b = block(203, h, umbra_types::Hash::ZERO, vec![]);
            let _ = sender.publish_block(&b).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let judge = n1.handle.clone();
    let mut rejected = 0;
    next_event(
        &mut n1,
        "node 2 to be banned for rejected blocks",
        |ev| match ev {
            NetworkEvent::Block { source, id, .. } => {
                judge
                    .report_validation(id.clone(), *source, Verdict::Reject)
                    .expect("report");
                rejected += 1;
                None
            }
            NetworkEvent::PeerBanned(p) if *p == bad => Some(()),
            _ => None,
        },
    )
    .await;
    spam.abort();
    // Default policy: -25 a rejection, ban at -100. (A block already in the
    // queue when the ban lands may make it five.)
    assert!(rejected >= 4, "banned after only {rejected} rejections");
    for n in [&n1, &n2, &n3] {
        n.handle.shutdown().await.expect("shutdown");
    }
}

/// Serves a chain but answers "by hash" with the wrong block.
struct LyingChain(MemChain);

impl umbra_network::SyncProvider for LyingChain {
    fn status(&self) -> umbra_network::ChainStatus {
        self.0.status()
    }
    fn headers(&self, from: u64, max: u32) -> Vec<umbra_types::Header> {
        self.0.headers(from, max)
    }
    fn blocks(&self, from: u64, max: u32) -> Vec<umbra_types::Block> {
        self.0.blocks(from, max)
    }
    fn block_by_hash(&self, _hash: umbra_types::Hash) -> Option<umbra_types::Block> {
        self.0.blocks.first().cloned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_sync_answers_are_errors_and_cost_score() {
    use umbra_network::SyncProvider;
    let honest = Arc::new(MemChain::new(204, 5));
    let wanted = honest.blocks[3].hash();
    let liar = start(
        config(204, 70, vec![]),
        Arc::new(LyingChain(MemChain::new(204, 5))),
    )
    .await;
    let asker = start(config(204, 71, vec![liar.addr.clone()]), honest.clone()).await;
    wait_for("asker to connect", || async {
        connected(&asker, liar.id).await.then_some(())
    })
    .await;

    assert_eq!(honest.block_by_hash(wanted).map(|b| b.hash()), Some(wanted));
    assert!(matches!(
        asker.handle.block_by_hash(liar.id, wanted).await,
        Err(NetworkError::BadResponse(p)) if p == liar.id
    ));
    let score = asker
        .handle
        .peers()
        .await
        .expect("peers")
        .into_iter()
        .find(|p| p.id == liar.id)
        .map(|p| p.score);
    assert!(matches!(score, Some(s) if s < 0), "score {score:?}");
    // Honest answers from the same peer still come through.
    assert_eq!(
        asker
            .handle
            .blocks(liar.id, 1, 2)
            .await
            .expect("blocks")
            .len(),
        2
    );
    liar.handle.shutdown().await.expect("shutdown");
    asker.handle.shutdown().await.expect("shutdown");
}
