//! `umbra testnet`: a local AEDPoS network of N node processes on
//! 127.0.0.1, each with its own data dir and key, sharing one spec; every
//! node bootstraps from all the others. Writes `DIR/testnet.json` for tests
//! and tools, then supervises until Ctrl-C.

use crate::cli::TestnetArgs;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use umbra_crypto::Keypair;
use umbra_node::p2p::p2p_secret;
use umbra_node::spec::{AedposSpec, ConsensusSpec, DEV_BALANCE, GenesisBalance, dev_balances};
use umbra_node::{ChainSpec, now_ms, save_key};
use umbra_runtime::ChainParams;
use umbra_types::parse_amount;

/// One node of a test network, as `testnet.json` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestnetNode {
    pub index: usize,
    pub rpc: String,
    /// Its dialable address, ending in `/p2p/<peer id>`.
    pub p2p: String,
    pub peer_id: String,
    pub address: String,
    pub public_key: String,
    pub pid: u32,
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
    pub log: PathBuf,
    /// The arguments (after the program) that start it again.
    pub args: Vec<String>,
}

/// `testnet.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestnetFile {
    pub chain_id: u64,
    pub spec: PathBuf,
    pub slot_ms: u64,
    /// The program the nodes run.
    pub program: PathBuf,
    pub nodes: Vec<TestnetNode>,
}

/// A port that was free a moment ago. Its listener is kept in `held`
/// until every port of the plan is chosen: the OS may hand a just-released
/// port out again, and two nodes planned on one port would leave one
/// unable to start.
fn free_port(held: &mut Vec<TcpListener>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    held.push(listener);
    Ok(port)
}

fn testnet_spec(keys: &[Keypair], a: &TestnetArgs) -> anyhow::Result<ChainSpec> {
    let amount = parse_amount(DEV_BALANCE)
        .context("dev balance")?
        .to_string();
    let mut balances = dev_balances();
    for (i, k) in keys.iter().enumerate() {
        balances.push(GenesisBalance {
            address: k.address(),
            amount: amount.clone(),
            name: Some(format!("node-{i}")),
        });
    }
    Ok(ChainSpec {
        name: "umbra-testnet".into(),
        chain_id: a.chain_id,
        // Time for every process to start before the first slot.
        genesis_time_ms: now_ms() + 2_000,
        consensus: ConsensusSpec {
            engine: "aedpos".into(),
            authorities: keys.iter().map(Keypair::public).collect(),
            block_time_ms: a.slot_ms,
            aedpos: Some(AedposSpec {
                rounds_per_term: a.rounds_per_term,
                ..AedposSpec::default()
            }),
        },
        balances,
        params: ChainParams {
            miners: keys.len() as u64,
            ..ChainParams::default()
        },
    })
}

/// Waits for the one-line JSON banner a node prints to `out` once it is up.
fn read_banner(child: &mut Child, out: &Path, log: &Path) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if let Some((line, _)) = text.split_once('\n') {
            return serde_json::from_str(line.trim())
                .with_context(|| format!("node printed {line:?}; see {}", log.display()));
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "node exited ({status}) before it was up; see {}",
                log.display()
            );
        }
        if Instant::now() > deadline {
            bail!("node not up after 60 s; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub async fn testnet(a: TestnetArgs) -> anyhow::Result<()> {
    crate::run_node::init_logs_with("info");
    if a.nodes == 0 || a.nodes > 64 {
        bail!("--nodes must be 1 to 64");
    }
    let dir = a.dir.clone();
    if dir.join("testnet.json").exists() && !a.fresh {
        bail!(
            "{} already holds a test network; use --fresh to replace it or another --dir",
            dir.display()
        );
    }
    if dir.exists() && a.fresh {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let keys: Vec<Keypair> = (0..a.nodes).map(|_| Keypair::generate()).collect();
    let spec = testnet_spec(&keys, &a)?;
    let spec_path = dir.join("spec.json");
    spec.save(&spec_path)?;
    let program = std::env::current_exe().context("cannot find the umbra binary")?;

    // Every node's address is known before any starts, so each can
    // bootstrap from all the others (and a restarted one finds them again).
    let mut plan = Vec::new();
    let mut held = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let node_dir = dir.join(format!("node-{i}"));
        std::fs::create_dir_all(&node_dir)?;
        let key_file = node_dir.join("key.json");
        save_key(&key_file, k)?;
        let peer_id = umbra_network::peer_id_from_secret(p2p_secret(k))?;
        let p2p = format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer_id}", free_port(&mut held)?);
        let rpc = format!("127.0.0.1:{}", free_port(&mut held)?);
        plan.push((node_dir, key_file, peer_id.to_string(), p2p, rpc));
    }
    // The nodes bind these ports themselves.
    drop(held);
    let mut nodes = Vec::new();
    let mut children = Vec::new();
    for (i, (node_dir, key_file, peer_id, p2p, rpc)) in plan.iter().enumerate() {
        let listen = p2p
            .rsplit_once("/p2p/")
            .map(|(l, _)| l.to_string())
            .unwrap_or_else(|| p2p.clone());
        let mut args: Vec<String> = vec![
            "--json".into(),
            "node".into(),
            "--spec".into(),
            spec_path.display().to_string(),
            "--data-dir".into(),
            node_dir.display().to_string(),
            "--key".into(),
            key_file.display().to_string(),
            "--rpc".into(),
            rpc.clone(),
            "--p2p".into(),
            listen,
            "--admin-rpc".into(),
            "--exit-with-parent".into(),
        ];
        if a.storage {
            args.extend([
                "--storage".into(),
                node_dir.join("storage").display().to_string(),
                "--capacity".into(),
                a.store.capacity.to_string(),
                "--upkeep-secs".into(),
                a.store.upkeep_secs.to_string(),
                "--stage-idle-secs".into(),
                a.store.stage_idle_secs.to_string(),
            ]);
        }
        for (j, other) in plan.iter().enumerate() {
            if j != i {
                args.push("--bootstrap".into());
                args.push(other.3.clone());
            }
        }
        let log = node_dir.join("node.log");
        let out = node_dir.join("banner.json");
        let mut child = spawn_node(&program, &args, &out, &log)?;
        let banner = read_banner(&mut child, &out, &log)?;
        let k = &keys[i];
        nodes.push(TestnetNode {
            index: i,
            rpc: format!("http://{rpc}"),
            p2p: p2p.clone(),
            peer_id: peer_id.clone(),
            address: k.address().to_string(),
            public_key: k.public().to_hex(),
            pid: child.id(),
            data_dir: node_dir.clone(),
            key_file: key_file.clone(),
            log,
            args,
        });
        if banner["peer_id"].as_str() != Some(peer_id.as_str()) {
            bail!("node {i} came up with another peer id than planned: {banner}");
        }
        children.push(child);
    }
    let file = TestnetFile {
        chain_id: spec.chain_id,
        spec: spec_path,
        slot_ms: a.slot_ms,
        program,
        nodes,
    };
    let json_path = dir.join("testnet.json");
    let tmp = dir.join("testnet.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&file)? + "\n")?;
    std::fs::rename(&tmp, &json_path)?;

    println!(
        "umbra testnet — chain {}, {} miners, {} ms slots",
        file.chain_id, a.nodes, a.slot_ms
    );
    for n in &file.nodes {
        println!(
            "node {}  {}  rpc {}  pid {}  log {}",
            n.index,
            n.address,
            n.rpc,
            n.pid,
            n.log.display()
        );
    }
    println!("\nlisted in {}", json_path.display());
    println!("Try:  umbra status --rpc {}", file.nodes[0].rpc);
    println!("Stop with Ctrl-C (stops every node).");

    supervise(children, a.exit_with_parent).await;
    Ok(())
}

fn spawn_node(program: &Path, args: &[String], out: &Path, log: &Path) -> anyhow::Result<Child> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let out_file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))
}

/// Waits for Ctrl-C / SIGTERM (or, with `exit_with_parent`, the parent's
/// exit), then stops every node. A node that exits on its own (a test
/// killed it) is only reported.
async fn supervise(mut children: Vec<Child>, exit_with_parent: bool) {
    let mut reported = vec![false; children.len()];
    let shutdown = crate::run_node::wait_for_stop(exit_with_parent);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                for (i, c) in children.iter_mut().enumerate() {
                    if !reported[i] && let Ok(Some(status)) = c.try_wait() {
                        tracing::warn!(target: "umbra::testnet", node = i, %status, "node exited");
                        reported[i] = true;
                    }
                }
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for c in &mut children {
        // SIGKILL: a node loses no committed block to it, and a test
        // network has nothing else to flush.
        let _ = c.kill();
    }
    for c in &mut children {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
