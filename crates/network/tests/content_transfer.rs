//! The content protocol and DHT provider records between real swarms on
//! loopback: pushes reach the provider with the sender's id, blocks come
//! back intact (and lying answers are caught), limits hold, and providers
//! are found through the DHT.

mod common;

// As in the `umbra` binary: the throughput test should see its allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use umbra_network::content::{MAX_REFUSAL_BYTES, NOT_A_STORAGE_NODE};
use umbra_network::{
    ContentProvider, ContentRequest, ContentResponse, NetworkConfig, NetworkError, PeerId,
};
use umbra_types::{Hash, merkle_proof, merkle_root, sha256};

/// A block of the size pdfs stores: 256 KiB of data and a 16-byte AEAD tag.
const FULL_BLOCK: usize = 256 * 1024 + 16;

fn block(seed: u32, len: usize) -> Vec<u8> {
    // Cheap, distinct per seed, not all one byte.
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) as u8)
        .collect()
}

/// An in-memory store that records who pushed what.
#[derive(Default)]
struct MemStore {
    blocks: Mutex<HashMap<Hash, Vec<u8>>>,
    manifests: Mutex<HashMap<Hash, Vec<u8>>>,
    pushes: Mutex<Vec<(PeerId, Hash, u64)>>,
    calls: AtomicUsize,
}

impl MemStore {
    fn with_blocks(blocks: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let s = MemStore::default();
        for b in blocks {
            s.blocks.lock().unwrap().insert(sha256(&b), b);
        }
        s
    }
}

impl ContentProvider for MemStore {
    fn handle(&self, peer: PeerId, request: ContentRequest) -> ContentResponse {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match request {
            ContentRequest::PutBlock {
                content_id,
                index,
                proof,
                data,
            } => {
                let id = sha256(&data);
                if !proof.verify(&id, &content_id) {
                    return ContentResponse::Refused("proof does not verify".into());
                }
                self.pushes.lock().unwrap().push((peer, content_id, index));
                self.blocks.lock().unwrap().insert(id, data);
                ContentResponse::Stored
            }
            ContentRequest::GetBlock { id } => {
                ContentResponse::Block(self.blocks.lock().unwrap().get(&id).cloned())
            }
            ContentRequest::HasBlocks { ids } => {
                let blocks = self.blocks.lock().unwrap();
                ContentResponse::Has(ids.iter().map(|id| blocks.contains_key(id)).collect())
            }
            ContentRequest::PutManifest {
                content_id,
                manifest,
            } => {
                self.manifests.lock().unwrap().insert(content_id, manifest);
                ContentResponse::Stored
            }
            ContentRequest::GetManifest { content_id } => {
                ContentResponse::Manifest(self.manifests.lock().unwrap().get(&content_id).cloned())
            }
        }
    }
}

fn chain(chain_id: u64) -> Arc<MemChain> {
    Arc::new(MemChain::new(chain_id, 1))
}

async fn pair(
    chain_id: u64,
    seed: u8,
    server_cfg: impl FnOnce(&mut NetworkConfig),
    content: Arc<dyn ContentProvider>,
) -> (Node, Node) {
    let mut cfg = config(chain_id, seed, vec![]);
    server_cfg(&mut cfg);
    let server = start_content(cfg, chain(chain_id), content).await;
    let client = start(
        config(chain_id, seed + 1, vec![server.addr.clone()]),
        chain(chain_id),
    )
    .await;
    wait_for("client to connect", || async {
        connected(&client, server.id).await.then_some(())
    })
    .await;
    (server, client)
}

async fn stop(nodes: &[&Node]) {
    for n in nodes {
        n.handle.shutdown().await.expect("shutdown");
    }
}

/// A push signed by the content's Merkle root, as a client would send it.
fn push(blocks: &[Vec<u8>], index: usize) -> (Hash, ContentRequest) {
    let leaves: Vec<Hash> = blocks.iter().map(|b| sha256(b)).collect();
    let root = merkle_root(&leaves);
    let req = ContentRequest::PutBlock {
        content_id: root,
        index: index as u64,
        proof: merkle_proof(&leaves, index).expect("in range"),
        data: blocks[index].clone(),
    };
    (root, req)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_blocks_reach_the_provider_with_the_senders_id() {
    let store = Arc::new(MemStore::default());
    let (server, client) = pair(301, 10, |_| {}, store.clone()).await;
    let blocks: Vec<Vec<u8>> = (0..3).map(|i| block(i, FULL_BLOCK)).collect();

    let (root, req) = push(&blocks, 1);
    let answer = client
        .handle
        .content_request(server.id, req)
        .await
        .expect("push");
    assert_eq!(answer, ContentResponse::Stored);
    assert_eq!(*store.pushes.lock().unwrap(), vec![(client.id, root, 1)]);
    assert_eq!(
        store.blocks.lock().unwrap().get(&sha256(&blocks[1])),
        Some(&blocks[1])
    );

    // The provider's refusal comes back as an answer.
    let (_, mut bad) = push(&blocks, 2);
    if let ContentRequest::PutBlock { index, proof, .. } = &mut bad {
        // Block 2's bytes claimed as block 0.
        *index = 0;
        proof.index = 0;
    }
    assert_eq!(
        client
            .handle
            .content_request(server.id, bad)
            .await
            .expect("refusal"),
        ContentResponse::Refused("proof does not verify".into())
    );

    // Manifests: opaque bytes there and back.
    let manifest = vec![7u8; 100_000];
    let put = ContentRequest::PutManifest {
        content_id: root,
        manifest: manifest.clone(),
    };
    assert_eq!(
        client.handle.content_request(server.id, put).await.unwrap(),
        ContentResponse::Stored
    );
    let got = client
        .handle
        .content_request(server.id, ContentRequest::GetManifest { content_id: root })
        .await
        .unwrap();
    assert_eq!(got, ContentResponse::Manifest(Some(manifest)));
    stop(&[&server, &client]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_size_blocks_come_back_intact() {
    let blocks: Vec<Vec<u8>> = (0..4).map(|i| block(i, FULL_BLOCK)).collect();
    let store = Arc::new(MemStore::with_blocks(blocks.clone()));
    let (server, client) = pair(302, 20, |_| {}, store).await;

    for b in &blocks {
        let got = client
            .handle
            .content_request(server.id, ContentRequest::GetBlock { id: sha256(b) })
            .await
            .expect("get");
        assert_eq!(got, ContentResponse::Block(Some(b.clone())));
    }
    let missing = ContentRequest::GetBlock { id: Hash([9; 32]) };
    assert_eq!(
        client
            .handle
            .content_request(server.id, missing)
            .await
            .unwrap(),
        ContentResponse::Block(None)
    );
    let has = ContentRequest::HasBlocks {
        ids: vec![sha256(&blocks[0]), Hash([9; 32]), sha256(&blocks[3])],
    };
    assert_eq!(
        client.handle.content_request(server.id, has).await.unwrap(),
        ContentResponse::Has(vec![true, false, true])
    );
    // Too many ids are refused before anything is sent.
    let many = ContentRequest::HasBlocks {
        ids: vec![Hash::ZERO; umbra_network::MAX_HAS_IDS + 1],
    };
    assert!(matches!(
        client.handle.content_request(server.id, many).await,
        Err(NetworkError::TooLarge { .. })
    ));
    stop(&[&server, &client]).await;
}

/// Answers every `GetBlock` with the same (wrong) block, and other requests
/// with answers of the wrong kind.
struct Liar;

impl ContentProvider for Liar {
    fn handle(&self, _peer: PeerId, request: ContentRequest) -> ContentResponse {
        match request {
            ContentRequest::GetBlock { .. } => ContentResponse::Block(Some(block(99, FULL_BLOCK))),
            ContentRequest::HasBlocks { ids } => ContentResponse::Has(vec![true; ids.len() + 1]),
            ContentRequest::GetManifest { .. } => ContentResponse::Stored,
            _ => ContentResponse::Refused("x".repeat(10 * MAX_REFUSAL_BYTES)),
        }
    }
}

async fn score(node: &Node, peer: PeerId) -> Option<i32> {
    node.handle
        .peers()
        .await
        .expect("peers")
        .into_iter()
        .find(|p| p.id == peer)
        .map(|p| p.score)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_answers_are_rejected_and_cost_score() {
    let (liar, client) = pair(303, 30, |_| {}, Arc::new(Liar)).await;
    let wanted = sha256(&block(1, FULL_BLOCK));
    assert!(matches!(
        client.handle.content_request(liar.id, ContentRequest::GetBlock { id: wanted }).await,
        Err(NetworkError::BadResponse(p)) if p == liar.id
    ));
    // The penalty is reported through the command queue: wait for it.
    wait_for("the liar's score to drop", || async {
        score(&client, liar.id).await.filter(|s| *s < 0).map(|_| ())
    })
    .await;
    let before = score(&client, liar.id).await.expect("still connected");
    let has = ContentRequest::HasBlocks {
        ids: vec![wanted; 3],
    };
    assert!(matches!(
        client.handle.content_request(liar.id, has).await,
        Err(NetworkError::BadResponse(_))
    ));
    wait_for("a second penalty", || async {
        score(&client, liar.id)
            .await
            .filter(|s| *s < before)
            .map(|_| ())
    })
    .await;
    // A long refusal reason was cut by the serving side: still an answer.
    let put = ContentRequest::PutManifest {
        content_id: wanted,
        manifest: vec![1],
    };
    assert!(matches!(
        client.handle.content_request(liar.id, put).await,
        Ok(ContentResponse::Refused(r)) if r.len() == MAX_REFUSAL_BYTES
    ));
    stop(&[&liar, &client]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_requests_are_refused_before_reading() {
    let store = Arc::new(MemStore::default());
    let (server, client) = pair(
        304,
        40,
        |c| c.max_content_request_bytes = 64 * 1024,
        store.clone(),
    )
    .await;
    let blocks: Vec<Vec<u8>> = (0..2).map(|i| block(i, FULL_BLOCK)).collect();
    let (_, req) = push(&blocks, 0);
    // The client's limit (the default) lets it go; the server's does not.
    let err = client
        .handle
        .content_request(server.id, req.clone())
        .await
        .expect_err("over the server's limit");
    assert!(
        matches!(err, NetworkError::Request { .. }),
        "unexpected error {err}"
    );
    assert_eq!(store.calls.load(Ordering::SeqCst), 0, "the provider saw it");
    // The connection survives and small requests still work.
    let small = ContentRequest::GetBlock { id: Hash([1; 32]) };
    assert_eq!(
        client
            .handle
            .content_request(server.id, small)
            .await
            .unwrap(),
        ContentResponse::Block(None)
    );
    // Over our own limit: refused before it is sent.
    let err = server
        .handle
        .content_request(client.id, req)
        .await
        .expect_err("over our own limit");
    assert!(matches!(err, NetworkError::TooLarge { .. }), "{err}");
    stop(&[&server, &client]).await;
}

/// Holds every request until the test opens the gate.
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    entered: AtomicUsize,
}

impl ContentProvider for Gate {
    fn handle(&self, _peer: PeerId, _request: ContentRequest) -> ContentResponse {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        ContentResponse::Block(None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_serve_limit_get_busy() {
    let gate = Arc::new(Gate {
        open: Mutex::new(false),
        cv: Condvar::new(),
        entered: AtomicUsize::new(0),
    });
    let (server, client) = pair(
        305,
        50,
        |c| c.max_concurrent_content_serves = 1,
        gate.clone(),
    )
    .await;
    let get = ContentRequest::GetBlock { id: Hash([1; 32]) };
    let first = {
        let (h, peer, get) = (client.handle.clone(), server.id, get.clone());
        tokio::spawn(async move { h.content_request(peer, get).await })
    };
    wait_for("the first request to be served", || async {
        (gate.entered.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    assert_eq!(
        client
            .handle
            .content_request(server.id, get.clone())
            .await
            .unwrap(),
        ContentResponse::Busy
    );
    *gate.open.lock().unwrap() = true;
    gate.cv.notify_all();
    assert_eq!(first.await.unwrap().unwrap(), ContentResponse::Block(None));
    // Free again: served, not busy.
    assert_eq!(
        client.handle.content_request(server.id, get).await.unwrap(),
        ContentResponse::Block(None)
    );
    assert_eq!(gate.entered.load(Ordering::SeqCst), 2);
    stop(&[&server, &client]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_content_refuses_content_requests() {
    let plain = start(config(306, 60, vec![]), chain(306)).await;
    let client = start(config(306, 61, vec![plain.addr.clone()]), chain(306)).await;
    wait_for("client to connect", || async {
        connected(&client, plain.id).await.then_some(())
    })
    .await;
    let reqs = [
        ContentRequest::GetBlock { id: Hash([1; 32]) },
        ContentRequest::GetManifest {
            content_id: Hash([1; 32]),
        },
        ContentRequest::HasBlocks { ids: vec![] },
        push(&[block(1, 1000)], 0).1,
    ];
    for req in reqs {
        assert_eq!(
            client.handle.content_request(plain.id, req).await.unwrap(),
            ContentResponse::Refused(NOT_A_STORAGE_NODE.into())
        );
    }
    stop(&[&plain, &client]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_are_found_through_the_dht_and_then_fetched_from() {
    let data = block(5, FULL_BLOCK);
    let key = sha256(&data);
    // B is the hub; A (the provider) and C join through it. C looks for no
    // more peers, so it reaches A only through what the DHT tells it.
    let b = start(config(307, 70, vec![]), chain(307)).await;
    let a = start_content(
        config(307, 71, vec![b.addr.clone()]),
        chain(307),
        Arc::new(MemStore::with_blocks([data.clone()])),
    )
    .await;
    let mut c_cfg = config(307, 72, vec![b.addr.clone()]);
    c_cfg.target_peers = 1;
    let c = start(c_cfg, chain(307)).await;
    wait_for("a and c to join b", || async {
        (connected(&a, b.id).await && connected(&c, b.id).await).then_some(())
    })
    .await;

    a.handle.start_providing(key).await.expect("provide");
    let found = wait_for("c to find a as provider", || async {
        let found = c.handle.providers(key).await.expect("look-up");
        found.contains(&a.id).then_some(found)
    })
    .await;
    assert!(!found.contains(&c.id));
    assert_eq!(
        found.iter().filter(|p| **p == a.id).count(),
        1,
        "duplicates"
    );
    // B, asked directly, knows too; nobody provides an unknown key.
    assert!(b.handle.providers(key).await.unwrap().contains(&a.id));
    assert!(
        c.handle
            .providers(Hash([0xee; 32]))
            .await
            .unwrap()
            .is_empty()
    );
    // C dials A (an address from the DHT) and fetches the block.
    let got = c
        .handle
        .content_request(a.id, ContentRequest::GetBlock { id: key })
        .await
        .expect("fetch from the provider");
    assert_eq!(got, ContentResponse::Block(Some(data)));

    // The record lives on in the DHT (B and C took it from A's
    // announcement): with A gone, C still learns it was the provider.
    a.handle.stop_providing(key).await.expect("stop");
    a.handle.shutdown().await.expect("shutdown");
    wait_for("c to find a's record without a", || async {
        c.handle
            .providers(key)
            .await
            .expect("look-up")
            .contains(&a.id)
            .then_some(())
    })
    .await;
    stop(&[&b, &c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_address_lets_a_request_reach_an_unknown_peer() {
    let data = block(6, 4096);
    let server = start_content(
        config(308, 80, vec![]),
        chain(308),
        Arc::new(MemStore::with_blocks([data.clone()])),
    )
    .await;
    let client = start(config(308, 81, vec![]), chain(308)).await;
    let get = ContentRequest::GetBlock { id: sha256(&data) };
    // Not connected, address unknown: the dial has nowhere to go.
    assert!(
        client
            .handle
            .content_request(server.id, get.clone())
            .await
            .is_err()
    );
    // An address that names another peer is refused.
    let other =
        umbra_network::peer_addr(&"/ip4/127.0.0.1/tcp/1".parse().unwrap(), PeerId::random());
    assert!(matches!(
        client.handle.add_peer_address(server.id, other).await,
        Err(NetworkError::Config(_))
    ));
    client
        .handle
        .add_peer_address(server.id, server.addr.clone())
        .await
        .expect("add address");
    assert_eq!(
        client.handle.content_request(server.id, get).await.unwrap(),
        ContentResponse::Block(Some(data))
    );
    stop(&[&server, &client]).await;
}

/// Throughput of `GetBlock` between two local swarms with many requests in
/// flight. Run with
/// `cargo test --workspace --release --test content_transfer -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark"]
async fn get_block_throughput() {
    let blocks: Vec<Vec<u8>> = (0..64).map(|i| block(i, FULL_BLOCK)).collect();
    let ids: Vec<Hash> = blocks.iter().map(|b| sha256(b)).collect();
    let (server, client) = pair(309, 90, |_| {}, Arc::new(MemStore::with_blocks(blocks))).await;
    let total: usize = std::env::var("UMBRA_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    for in_flight in [1usize, 8, 32, 64] {
        let started = std::time::Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..in_flight {
            let (h, peer, ids, next) =
                (client.handle.clone(), server.id, ids.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                let mut bytes = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return bytes;
                    }
                    let id = ids[i % ids.len()];
                    loop {
                        match h
                            .content_request(peer, ContentRequest::GetBlock { id })
                            .await
                        {
                            Ok(ContentResponse::Block(Some(b))) => {
                                bytes += b.len();
                                break;
                            }
                            Ok(ContentResponse::Busy) => {
                                tokio::time::sleep(Duration::from_millis(1)).await
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                }
            }));
        }
        let mut bytes = 0usize;
        for w in workers {
            bytes += w.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "GetBlock, {in_flight:>2} in flight: {total} blocks, {:.1} MiB in {secs:.2} s = {:.0} MB/s",
            bytes as f64 / (1 << 20) as f64,
            bytes as f64 / secs / 1e6
        );
    }
    stop(&[&server, &client]).await;
}
