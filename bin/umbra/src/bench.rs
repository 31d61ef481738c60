//! `umbra bench`: performance measurements anyone can rerun.

use crate::cli::{BenchCmd, BenchTransfersArgs, Global};
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use umbra_crypto::{Keypair, dev_keypair};
use umbra_node::spec::{ConsensusSpec, GenesisBalance};
use umbra_node::{ChainSpec, MempoolConfig, Node, NodeConfig, now_ms};
use umbra_rpc::RpcClient;
use umbra_runtime::ChainParams;
use umbra_storage::StoreConfig;
use umbra_types::{Hash, Payload, RefBlock, UnsignedTransaction, encode, parse_amount, sha256};

pub async fn bench(cmd: BenchCmd, g: &Global) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Transfers(a) => transfers(a, g).await,
        BenchCmd::Exec(a) => tokio::task::spawn_blocking({
            let json = g.json;
            move || crate::bench_exec::exec(a, json)
        })
        .await
        .context("bench thread")?,
        BenchCmd::Gates { secs } => tokio::task::spawn_blocking({
            let json = g.json;
            move || crate::bench_gates::gates(secs, json)
        })
        .await
        .context("bench thread")?,
        BenchCmd::Net(a) => crate::bench_net::net(a, g.json).await,
        BenchCmd::Storage(a) => crate::bench_storage::storage(a, g.json).await,
    }
}

fn bench_key(i: usize) -> Keypair {
    Keypair::from_seed(sha256(format!("umbra/bench-account/{i}").as_bytes()).0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn transfers(a: BenchTransfersArgs, g: &Global) -> anyhow::Result<()> {
    crate::run_node::init_logs_with("warn");
    if a.txs == 0 || a.accounts < 2 || a.batch == 0 || a.clients == 0 {
        bail!("--txs, --batch and --clients must be positive and --accounts at least 2");
    }
    let dir = std::env::temp_dir().join(format!("umbra-bench-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir)?;
    let keys: Vec<Keypair> = (0..a.accounts).map(bench_key).collect();
    let validator = dev_keypair("validator");
    let balance = parse_amount("1000000")?.to_string();
    let spec = ChainSpec {
        name: "umbra-bench".into(),
        chain_id: 4242,
        genesis_time_ms: now_ms(),
        consensus: ConsensusSpec {
            engine: "solo".into(),
            authorities: vec![validator.public()],
            block_time_ms: a.block_time_ms,
            aedpos: None,
        },
        balances: keys
            .iter()
            .map(|k| GenesisBalance {
                address: k.address(),
                amount: balance.clone(),
                name: None,
            })
            .collect(),
        // A longer validity window so a long run's pre-signed transactions do not expire.
        params: ChainParams {
            ref_block_window: 100_000,
            ..ChainParams::default()
        },
    };
    let per_sender = a.txs.div_ceil(a.accounts) as u64 + 1;
    let node = Node::start(NodeConfig {
        data_dir: dir.clone(),
        spec: spec.clone(),
        key: Some(validator),
        rpc_addr: "127.0.0.1:0".parse()?,
        block_time_ms: None,
        store: StoreConfig::default(),
        mempool: MempoolConfig {
            max_txs: a.txs + 1,
            max_bytes: 1 << 30,
            max_per_sender: per_sender as usize,
            max_nonce_ahead: per_sender,
        },
        executor: a.exec.choice(),
        p2p: None,
        admin_rpc: false,
        storage: None,
    })
    .await?;
    let url = format!("http://{}", node.rpc_addr());
    let client = RpcClient::new(&url)?;
    let genesis = client.head().await?;

    eprintln!("signing {} transfers from {} accounts…", a.txs, a.accounts);
    let mut hexes = Vec::with_capacity(a.txs);
    let mut hashes = Vec::with_capacity(a.txs);
    'outer: for nonce in 0..per_sender {
        for (i, k) in keys.iter().enumerate() {
            if hexes.len() == a.txs {
                break 'outer;
            }
            let tx = k.sign_transaction(UnsignedTransaction {
                chain_id: spec.chain_id,
                sender: k.public(),
                nonce,
                ref_block: RefBlock::new(genesis.height, &genesis.hash),
                max_fee: 1_000_000,
                payload: Payload::Transfer {
                    to: keys[(i + 1) % keys.len()].address(),
                    amount: 1,
                },
            });
            hashes.push(tx.hash());
            hexes.push(hex::encode(encode(&tx)));
        }
    }
    let chunks: Arc<Vec<Vec<String>>> =
        Arc::new(hexes.chunks(a.batch).map(|c| c.to_vec()).collect());
    let chunk_of: HashMap<Hash, usize> = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| (*h, i / a.batch))
        .collect();

    eprintln!(
        "submitting through {url} with {} clients, {} per batch…",
        a.clients, a.batch
    );
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..a.clients {
        let (chunks, next, url) = (chunks.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let c = RpcClient::new(&url)?;
            let mut sent = Vec::new();
            let (mut ok, mut rejected) = (0usize, 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(chunk) = chunks.get(i) else { break };
                let t = start.elapsed();
                let out = c.submit_batch(chunk.clone()).await?;
                sent.push((i, t));
                for o in out {
                    if o.hash.is_some() {
                        ok += 1
                    } else {
                        rejected += 1
                    }
                }
            }
            anyhow::Ok((sent, ok, rejected))
        }));
    }

    // Watch blocks through the RPC, as a client would.
    let mut seen: HashMap<Hash, Duration> = HashMap::new();
    let mut next_height = genesis.height + 1;
    let mut max_block = 0usize;
    let mut blocks = 0usize;
    let mut submit_times: HashMap<usize, Duration> = HashMap::new();
    let (mut accepted, mut rejected) = (0usize, 0usize);
    let mut submitted = false;
    let deadline = Duration::from_secs(600);
    loop {
        if !submitted && tasks.iter().all(|t| t.is_finished()) {
            for t in tasks.drain(..) {
                let (sent, ok, rej) = t.await.context("submitter crashed")??;
                submit_times.extend(sent);
                accepted += ok;
                rejected += rej;
            }
            submitted = true;
            eprintln!(
                "submitted in {:.2}s: {accepted} accepted, {rejected} rejected",
                start.elapsed().as_secs_f64()
            );
        }
        let head = client.head().await?;
        while next_height <= head.height {
            let b = client.block(next_height.into()).await?;
            let t = start.elapsed();
            blocks += 1;
            max_block = max_block.max(b.transactions.len());
            for tx in &b.transactions {
                seen.insert(tx.hash, t);
            }
            next_height += 1;
        }
        if submitted && seen.len() >= accepted {
            break;
        }
        if start.elapsed() > deadline {
            eprintln!("gave up waiting after {}s", deadline.as_secs());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    let mut lat: Vec<f64> = seen
        .iter()
        .filter_map(|(h, t)| {
            let c = chunk_of.get(h)?;
            let s = submit_times.get(c)?;
            Some(t.saturating_sub(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    lat.sort_by(|x, y| x.total_cmp(y));
    let last = seen
        .values()
        .max()
        .copied()
        .unwrap_or_default()
        .as_secs_f64();
    let tps = if last > 0.0 {
        seen.len() as f64 / last
    } else {
        0.0
    };
    let v = serde_json::json!({
        "bench": "transfers",
        "txs": a.txs,
        "accounts": a.accounts,
        "block_time_ms": a.block_time_ms,
        "accepted": accepted,
        "rejected": rejected,
        "included": seen.len(),
        "blocks": blocks,
        "max_block_txs": max_block,
        "seconds": last,
        "tps": tps,
        "latency_ms": { "p50": percentile(&lat, 0.5), "p99": percentile(&lat, 0.99), "max": percentile(&lat, 1.0) },
    });
    crate::output::emit(g.json, &v, || {
        format!(
            "transfers: {} included of {} sent ({} rejected) in {:.2}s over {} blocks (largest {})\n  sustained: {:.0} TPS\n  inclusion latency: p50 {:.0} ms, p99 {:.0} ms",
            seen.len(),
            a.txs,
            rejected,
            last,
            blocks,
            max_block,
            tps,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        )
    })?;
    if seen.len() < accepted {
        bail!(
            "{} accepted transactions were never included",
            accepted - seen.len()
        );
    }
    Ok(())
}
