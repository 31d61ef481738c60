//! `umbra bench storage`: put and get throughput of PDFS on a local
//! network of N storage nodes (`umbra testnet --storage`), with K copies of
//! every block. The data goes through the same code as `umbra put` and
//! `umbra get`: encryption, the allocation transaction, upload through one
//! node's gateway, placement on the K closest nodes, retrieval through
//! another node, hash checks and decryption.

use crate::bench_net::{Network, tail};
use crate::content_cmds::{Opener, PutOptions, get_content, put_file};
use crate::progress::human_bytes;
use anyhow::{Context, bail};
use clap::Args;
use sha2::Digest;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use umbra_rpc::RpcClient;

#[derive(Args)]
pub struct BenchStorageArgs {
    /// How much data to store (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "1GiB", value_parser = crate::content_cmds::parse_size)]
    pub size: u64,
    /// Storage nodes in the local network.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Copies of each block (default: 3, at most the number of nodes).
    #[arg(long)]
    pub replicas: Option<u8>,
    /// Blocks in flight at once, each way.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Store the data unencrypted.
    #[arg(long)]
    pub public: bool,
    /// Keep the network's directory (logs, block stores) afterwards.
    #[arg(long)]
    pub keep_dir: bool,
}

#[derive(serde::Serialize)]
struct Report {
    size: u64,
    nodes: usize,
    replicas: u8,
    public: bool,
    put: crate::content_cmds::PutReport,
    get: crate::content_cmds::GetReport,
    /// Put throughput without the wait for the allocation to be included.
    put_data_mb_per_s: f64,
    verified: bool,
}

pub async fn storage(a: BenchStorageArgs, json: bool) -> anyhow::Result<()> {
    if a.nodes == 0 || a.nodes > 16 {
        bail!("--nodes must be 1 to 16");
    }
    let replicas = a.replicas.unwrap_or(3.min(a.nodes) as u8);
    if replicas == 0 || usize::from(replicas) > a.nodes {
        bail!("--replicas must be 1 to --nodes ({})", a.nodes);
    }
    let say = |msg: String| {
        if !json {
            eprintln!("{msg}");
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("umbra-bench-storage")
        .tempdir()?;
    let root = dir.path().to_path_buf();
    let mut net = Network {
        launcher: None,
        nodes: Vec::new(),
        net_dir: root.join("net"),
        keep: a.keep_dir,
        dir: Some(dir),
    };

    // 1. The network: N storage nodes, room for every copy.
    let program = std::env::current_exe().context("cannot find the umbra binary")?;
    // Room for every copy, and for node 0 to stage all of it (staging may
    // take half a store).
    let capacity = a
        .size
        .saturating_mul(u64::from(replicas).max(2))
        .saturating_add(1 << 30);
    say(format!(
        "starting {} storage node(s) in {}…",
        a.nodes,
        net.net_dir.display()
    ));
    let log = root.join("launcher.log");
    let child = Command::new(&program)
        .args([
            "testnet",
            "--exit-with-parent",
            "--storage",
            "--nodes",
            &a.nodes.to_string(),
            "--capacity",
        ])
        .arg(capacity.to_string())
        .arg("--dir")
        .arg(&net.net_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("cannot start the testnet")?;
    net.launcher = Some(child);
    let json_path = net.net_dir.join("testnet.json");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !json_path.exists() {
        if Instant::now() > deadline {
            bail!(
                "no testnet.json after 90 s; the launcher's log ends:\n{}",
                tail(&log, 30)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
    let mut urls = Vec::new();
    for n in file["nodes"]
        .as_array()
        .context("testnet.json lists no nodes")?
    {
        urls.push(
            n["rpc"]
                .as_str()
                .context("a node without an RPC URL")?
                .to_string(),
        );
        if let (Some(pid), Some(d)) = (n["pid"].as_u64(), n["data_dir"].as_str()) {
            net.nodes.push((pid as u32, d.into()));
        }
    }
    let first = urls.first().context("no nodes")?.clone();
    let last = urls.last().context("no nodes")?.clone();
    let c = RpcClient::new(&first)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let nodes: Vec<serde_json::Value> =
            c.call("storage_nodes", vec![]).await.unwrap_or_default();
        if nodes.len() == a.nodes {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {} storage nodes registered after 120 s",
                nodes.len(),
                a.nodes
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // 2. The data: pseudo-random, so nothing compresses or dedups.
    let input = root.join("input");
    say(format!("writing {} of test data…", human_bytes(a.size)));
    let input_hash = write_random(&input, a.size)?;

    // 3. Put through the first node, get through the last.
    say(format!(
        "put: {} through node 0, {replicas} replicas…",
        human_bytes(a.size)
    ));
    let owner = umbra_crypto::dev_keypair("alice");
    let put = put_file(&PutOptions {
        rpc: first,
        file: input.clone(),
        owner: owner.clone(),
        public: a.public,
        replicas: Some(replicas),
        period_ms: 86_400_000,
        priority: 1,
        writable: false,
        max_price: None,
        concurrency: a.concurrency,
        timeout: 60,
        progress: !json,
    })
    .await?;
    let _ = std::fs::remove_file(&input);
    let id: umbra_types::Hash = put.content_id.parse()?;
    let output = root.join("output");
    say(format!("get: through node {}…", urls.len() - 1));
    let get = get_content(
        &last,
        &id,
        Opener::Grant(Box::new(owner)),
        &output,
        a.concurrency,
        !json,
    )
    .await?;
    let verified = hash_file(&output)? == input_hash;
    let _ = std::fs::remove_file(&output);
    if !verified {
        bail!("the content fetched back differs from what was stored");
    }
    let data_secs = put.first_pass_seconds + put.place_seconds;
    let report = Report {
        size: a.size,
        nodes: a.nodes,
        replicas,
        public: a.public,
        put_data_mb_per_s: if data_secs > 0.0 {
            a.size as f64 / 1e6 / data_secs
        } else {
            0.0
        },
        put,
        get,
        verified,
    };
    net.stop();
    crate::output::emit(json, &report, || {
        format!(
            "{} on {} node(s), {} replicas, {}\n  put  {:>8.1} MB/s  ({:.2} s: {} {:.2} s, chain {:.2} s, {} {:.2} s; {:.1} MB/s without the chain wait)\n  get  {:>8.1} MB/s  ({:.2} s)\n  content verified byte for byte",
            human_bytes(report.size),
            report.nodes,
            report.replicas,
            if report.public { "public" } else { "encrypted" },
            report.put.mb_per_s,
            report.put.total_seconds,
            if report.put.one_pass {
                "upload"
            } else {
                "hashing"
            },
            report.put.first_pass_seconds,
            report.put.chain_seconds,
            if report.put.one_pass {
                "placing"
            } else {
                "upload"
            },
            report.put.place_seconds,
            report.put_data_mb_per_s,
            report.get.mb_per_s,
            report.get.seconds,
        )
    })
}

/// Writes `size` pseudo-random bytes to `path`; returns their SHA-256.
fn write_random(path: &Path, size: u64) -> anyhow::Result<[u8; 32]> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut h = sha2::Sha256::new();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        let part = buf.get(..n).context("buffer")?;
        f.write_all(part)?;
        h.update(part);
        left -= n as u64;
    }
    f.flush()?;
    Ok(h.finalize().into())
}

fn hash_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).context("buffer")?);
    }
    Ok(h.finalize().into())
}
