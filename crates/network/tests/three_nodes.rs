//! Three nodes on loopback (2 and 3 bootstrap from 1): discovery, gossip of
//! transactions and blocks, and sync requests.

mod common;

use common::*;
use std::sync::Arc;
use umbra_network::{NetworkEvent, SyncResponse, Verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_discover_each_other_through_the_bootstrap_node() {
    let chain = Arc::new(MemChain::new(101, 3));
    let [n1, n2, n3] = three_nodes(101, 10, chain).await;
    // Node 3 was only told about node 1; it must know node 2 now.
    assert!(connected(&n3, n2.id).await);
    assert!(connected(&n2, n3.id).await);
    for n in [&n1, &n2, &n3] {
        n.handle.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_tx_and_block_reach_the_other_nodes_intact() {
    let chain = Arc::new(MemChain::new(102, 3));
    let [mut n1, mut n2, mut n3] = three_nodes(102, 20, chain).await;

    let tx = tx(102, 42);
    // Several transactions published together travel as one message.
    let sent = vec![tx.clone(), common::tx(102, 44), common::tx(102, 45)];
    let ids = n1.handle.publish_txs(&sent).await.expect("publish txs");
    assert_eq!(ids.len(), 1);
    for node in [&mut n2, &mut n3] {
        let (source, id, got) = next_event(node, "the transactions", |ev| match ev {
            NetworkEvent::Transactions { source, id, txs } => {
                Some((*source, id.clone(), txs.clone()))
            }
            _ => None,
        })
        .await;
        assert_eq!(got, sent);
        assert_eq!(got[0].hash(), tx.hash());
        node.handle
            .report_validation(id, source, Verdict::Accept)
            .expect("report");
    }

    let block = block(
        102,
        7,
        umbra_types::Hash([5; 32]),
        vec![tx.clone(), common::tx(102, 43)],
    );
    n2.handle
        .publish_block(&block)
        .await
        .expect("publish block");
    for node in [&mut n1, &mut n3] {
        let got = next_event(node, "the block", |ev| match ev {
            NetworkEvent::Block { block, .. } => Some((**block).clone()),
            _ => None,
        })
        .await;
        assert_eq!(got, block);
        assert_eq!(got.hash(), block.hash());
    }

    // Far over gossipsub's default 64 KiB message limit, under our 8 MiB.
    let mut big = common::block(102, 8, block.hash(), vec![]);
    big.header.consensus = vec![0xab; 3 << 20];
    n3.handle
        .publish_block(&big)
        .await
        .expect("publish big block");
    for node in [&mut n1, &mut n2] {
        let got = next_event(node, "the big block", |ev| match ev {
            NetworkEvent::Block { block, .. } if block.header.height == 8 => {
                Some((**block).clone())
            }
            _ => None,
        })
        .await;
        assert_eq!(got, big);
    }
    // Over the limit is refused before it leaves the node.
    big.header.consensus = vec![0; umbra_network::DEFAULT_MAX_BLOCK_BYTES];
    assert!(matches!(
        n3.handle.publish_block(&big).await,
        Err(umbra_network::NetworkError::TooLarge { .. })
    ));

    // The same bytes again are the same (content-addressed) message.
    assert!(matches!(
        n2.handle.publish_block(&block).await,
        Err(umbra_network::NetworkError::Duplicate)
    ));
    for n in [&n1, &n2, &n3] {
        n.handle.shutdown().await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_requests_return_what_the_provider_serves() {
    let chain = Arc::new(MemChain::new(103, 20));
    let expected = chain.blocks.clone();
    let [n1, n2, n3] = three_nodes(103, 30, chain).await;

    let blocks = n2.handle.blocks(n1.id, 4, 6).await.expect("blocks");
    assert_eq!(blocks, expected[4..10].to_vec());

    // Past the head: an empty answer, not an error.
    assert!(
        n3.handle
            .blocks(n1.id, 100, 5)
            .await
            .expect("blocks")
            .is_empty()
    );

    // A request over the cap is trimmed to the cap by the server.
    let many = n3.handle.blocks(n2.id, 0, 10_000).await.expect("blocks");
    assert_eq!(many, expected[..20].to_vec());

    let headers = n3.handle.headers(n1.id, 0, 3).await.expect("headers");
    let want: Vec<_> = expected[..3].iter().map(|b| b.header.clone()).collect();
    assert_eq!(headers, want);

    let status = n2.handle.status(n3.id).await.expect("status");
    assert_eq!(status.head_height, 19);
    assert_eq!(status.head_hash, expected[19].hash());

    let by_hash = n1
        .handle
        .block_by_hash(n2.id, expected[11].hash())
        .await
        .expect("by hash");
    assert_eq!(by_hash, Some(expected[11].clone()));
    let raw = n1
        .handle
        .request(
            n2.id,
            umbra_network::SyncRequest::BlockByHash(umbra_types::Hash([0xee; 32])),
        )
        .await
        .expect("request");
    assert_eq!(raw, SyncResponse::Block(None));
    for n in [&n1, &n2, &n3] {
        n.handle.shutdown().await.expect("shutdown");
    }
}
