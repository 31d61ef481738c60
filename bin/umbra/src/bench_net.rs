//! `umbra bench net`: inclusion and finality latency on a real local
//! network. Starts `umbra testnet` as a child process in a temp dir, funds
//! bench accounts from the dev accounts, then sends a steady stream of
//! transfers to all nodes while watching node 0's chain:
//!
//! - inclusion latency: submit → the transaction's block is seen on node 0;
//! - finality latency: submit → node 0's irreversible height reaches it.
//!
//! Everything reported is measured; quantiles are over the transactions
//! that actually got included (or finalized).

use crate::cli::BenchNetArgs;
use anyhow::{Context, anyhow, bail};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use umbra_crypto::{DEV_ACCOUNT_NAMES, Keypair, dev_keypair};
use umbra_rpc::RpcClient;
use umbra_types::{Amount, Hash, Payload, RefBlock, UnsignedTransaction, encode, sha256};

/// Transfers a dev account sends before waiting for them to be included
/// (the mempool takes at most 2048 pending per sender).
const FUNDING_WAVE: usize = 2_000;
/// A dev account whose nonce has not moved for this long gets its missing
/// funding transfers again.
const FUNDING_RESEND_AFTER: Duration = Duration::from_secs(5);
/// Most transactions per `tx_submitBatch` call.
const MAX_BATCH: usize = umbra_rpc::MAX_SUBMIT_BATCH;
/// Each bench account gets at most this much (base units: 100 UMB).
const FUNDING_MAX: Amount = 100_000_000_000;
/// Fee ceiling of every bench transaction (base units).
const MAX_FEE: Amount = 1_000_000;
/// Load tick.
const TICK: Duration = Duration::from_millis(100);
/// Submit calls in flight at once; past this the load falls behind its
/// target, which `tps_submitted` shows.
const MAX_IN_FLIGHT: usize = 64;
/// A refused transfer is signed again (same sender and nonce, a fresh
/// reference block) this many times per sender before the sender is taken
/// out of the rotation.
const MAX_REFUSALS_PER_SENDER: u32 = 3;
/// Reference blocks this far behind the slowest node's head, clear of
/// short forks.
const REF_FORK_MARGIN: u64 = 3;
/// Reference blocks at most this far behind node 0's head (the window is 64).
const REF_MAX_AGE: u64 = 32;
/// How long to wait, after the load, for included transactions to finalize.
const DRAIN: Duration = Duration::from_secs(30);

/// `--duration` values: `30s`, `2m`, `500ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let ms = crate::election_cmds::parse_duration_ms(s).map_err(|e| format!("{e:#}"))?;
    if ms == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_millis(ms))
}

fn bench_key(i: usize) -> Keypair {
    Keypair::from_seed(sha256(format!("umbra/bench-net/{i}").as_bytes()).0)
}

/// The `p`-quantile (nearest rank) of sorted samples; `None` without any.
fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The last `n` lines of a file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The launched network and its temp dir. Dropping it stops every process
/// it started, on every exit path, before the temp dir goes.
pub(crate) struct Network {
    pub(crate) launcher: Option<Child>,
    /// Node pids and data dirs from testnet.json.
    pub(crate) nodes: Vec<(u32, PathBuf)>,
    /// `<tmp>/net`: any process whose command line names it is ours.
    pub(crate) net_dir: PathBuf,
    pub(crate) keep: bool,
    pub(crate) dir: Option<tempfile::TempDir>,
}

/// Whether process `pid` is alive and its command line mentions `marker`.
/// Without procfs it cannot tell and says yes.
fn ours(pid: u32, marker: &str) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) => String::from_utf8_lossy(&raw).contains(marker),
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Network {
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.launcher.take()
            && matches!(child.try_wait(), Ok(None))
        {
            // The launcher stops its nodes on SIGTERM.
            signal(child.id(), "-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Ok(None) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    _ => break,
                }
            }
        }
        // Fallback: nodes the launcher did not stop (it died first, or was
        // stopped before it could list them).
        let marker = self.net_dir.display().to_string();
        let mut pids: Vec<u32> = self
            .nodes
            .drain(..)
            .filter(|(pid, dir)| ours(*pid, &dir.display().to_string()))
            .map(|(pid, _)| pid)
            .collect();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            let me = std::process::id();
            for e in entries.flatten() {
                if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                    && pid != me
                    && !pids.contains(&pid)
                    && ours(pid, &marker)
                {
                    pids.push(pid);
                }
            }
        }
        for pid in &pids {
            signal(*pid, "-KILL");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|p| ours(*p, &marker)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(dir) = self.dir.take()
            && self.keep
        {
            eprintln!("kept the network's files in {}", dir.keep().display());
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the observer has seen on node 0.
#[derive(Default)]
struct Seen {
    /// First block each transaction was seen in: height and when.
    included: HashMap<Hash, (u64, Instant)>,
    /// When each height was first seen irreversible.
    final_at: BTreeMap<u64, Instant>,
    block_hash: HashMap<u64, Hash>,
    /// Node 0's head when the load started.
    start: u64,
    /// Highest height whose block has been fetched.
    head: u64,
    irreversible: u64,
    /// Times a fetched block turned out replaced by a reorg.
    reorgs: u64,
    /// Every node's head height, polled every 200 ms.
    node_heads: Vec<u64>,
    max_block_txs: usize,
    errors: u64,
    last_error: Option<String>,
}

impl Seen {
    /// A recent block every node has: a few behind the slowest node's head
    /// (short forks), but no more than `REF_MAX_AGE` behind node 0's.
    fn ref_block(&self) -> RefBlock {
        let slowest = self.node_heads.iter().copied().min().unwrap_or(self.head);
        let h = slowest
            .min(self.head)
            .saturating_sub(REF_FORK_MARGIN)
            .max(self.head.saturating_sub(REF_MAX_AGE))
            .max(self.start);
        let hash = self.block_hash.get(&h).copied().unwrap_or_default();
        RefBlock::new(h, &hash)
    }
}

/// Polls every node's head every 200 ms, for reference blocks they all know.
async fn watch_heads(clients: Vec<Arc<RpcClient>>, seen: Arc<Mutex<Seen>>) {
    loop {
        for (i, c) in clients.iter().enumerate() {
            if let Ok(h) = c.head().await {
                seen.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .node_heads[i] = h.height;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls node 0 every ~25 ms: new blocks and the irreversible height.
async fn observe(client: Arc<RpcClient>, seen: Arc<Mutex<Seen>>) {
    let mut next = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .head
        + 1;
    let note = |seen: &Mutex<Seen>, e: String| {
        let mut s = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.errors += 1;
        s.last_error = Some(e);
    };
    loop {
        match client.head().await {
            Ok(h) => {
                while next <= h.height {
                    match client.block(serde_json::json!(next)).await {
                        Ok(b) => {
                            let t = Instant::now();
                            let mut s = seen
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            // A reorg replaced the block below: fetch that
                            // height again (down to where the chains meet).
                            if next > s.start + 1
                                && s.block_hash.get(&(next - 1)) != Some(&b.header.parent_hash)
                            {
                                s.reorgs += 1;
                                next -= 1;
                                continue;
                            }
                            for tx in &b.transactions {
                                // Inclusion: first seen wins. Finality: the
                                // height it is at now.
                                s.included
                                    .entry(tx.hash)
                                    .and_modify(|e| e.0 = next)
                                    .or_insert((next, t));
                            }
                            s.block_hash.insert(next, b.header.hash);
                            s.max_block_txs = s.max_block_txs.max(b.transactions.len());
                            s.head = next;
                            next += 1;
                        }
                        Err(e) => {
                            note(&seen, format!("chain_block {next}: {e}"));
                            break;
                        }
                    }
                }
            }
            Err(e) => note(&seen, format!("chain_head: {e}")),
        }
        match client.status().await {
            Ok(st) => {
                let t = Instant::now();
                let mut s = seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                // Only heights whose block was fetched, so finality never
                // comes before inclusion.
                let fin = st.irreversible_height.min(s.head);
                while s.irreversible < fin {
                    s.irreversible += 1;
                    let h = s.irreversible;
                    s.final_at.entry(h).or_insert(t);
                }
            }
            Err(e) => note(&seen, format!("node_status: {e}")),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Signs and submits load batches, each on its own task, round-robin over
/// the nodes.
struct Batcher {
    keys: Arc<Vec<Keypair>>,
    chain_id: u64,
    clients: Vec<Arc<RpcClient>>,
    slots: Arc<tokio::sync::Semaphore>,
    results: tokio::sync::mpsc::UnboundedSender<BatchResult>,
}

impl Batcher {
    /// Sends exactly one `BatchResult` for the batch, whatever happens.
    async fn spawn(
        &self,
        plan: Vec<(usize, u64)>,
        index: usize,
        ref_block: RefBlock,
    ) -> anyhow::Result<()> {
        let permit = self.slots.clone().acquire_owned().await?;
        let client = self.clients[index % self.clients.len()].clone();
        let (keys, results, chain_id) = (self.keys.clone(), self.results.clone(), self.chain_id);
        tokio::spawn(async move {
            let _permit = permit;
            let n = keys.len();
            let to_sign = plan.clone();
            let signing = tokio::task::spawn_blocking(move || {
                to_sign
                    .iter()
                    .map(|&(s, nonce)| {
                        let k = &keys[s];
                        let tx = k.sign_transaction(UnsignedTransaction {
                            chain_id,
                            sender: k.public(),
                            nonce,
                            ref_block,
                            max_fee: MAX_FEE,
                            payload: Payload::Transfer {
                                to: keys[(s + n / 2 + 1) % n].address(),
                                amount: 1,
                            },
                        });
                        hex::encode(encode(&tx))
                    })
                    .collect::<Vec<_>>()
            })
            .await;
            let submitted_at = Instant::now();
            let (outcome, errors) = match signing {
                Err(e) => (Err(format!("signing failed: {e}")), Vec::new()),
                Ok(hexes) => match client.submit_batch(hexes).await {
                    Ok(o) => {
                        let errors = o
                            .iter()
                            .filter_map(|x| x.error.as_ref().map(|e| e.message.clone()))
                            .collect();
                        (Ok(o.into_iter().map(|x| x.hash).collect()), errors)
                    }
                    Err(e) => (Err(format!("{}: {e}", client.url())), Vec::new()),
                },
            };
            let _ = results.send(BatchResult {
                senders: plan,
                submitted_at,
                finished_at: Instant::now(),
                outcome,
                errors,
            });
        });
        Ok(())
    }
}

/// What one submit call came back with.
struct BatchResult {
    /// (sender, nonce) of each transfer, in order.
    senders: Vec<(usize, u64)>,
    submitted_at: Instant,
    finished_at: Instant,
    outcome: Result<Vec<Option<Hash>>, String>,
    errors: Vec<String>,
}

/// The submit side's bookkeeping.
struct Tally {
    submitted: usize,
    refused: usize,
    reasons: BTreeMap<String, usize>,
    last_finish: Option<Instant>,
    /// Accepted transactions and when they were submitted.
    submit_at: HashMap<Hash, Instant>,
    /// Refused (sender, nonce) pairs to send again: later nonces of the
    /// sender wait on them.
    retry: VecDeque<(usize, u64)>,
    refusals: Vec<u32>,
    /// Senders refused too often, taken out of the rotation.
    dropped: Vec<bool>,
    dropped_count: usize,
}

impl Tally {
    fn new(accounts: usize) -> Self {
        Tally {
            submitted: 0,
            refused: 0,
            reasons: BTreeMap::new(),
            last_finish: None,
            submit_at: HashMap::new(),
            retry: VecDeque::new(),
            refusals: vec![0; accounts],
            dropped: vec![false; accounts],
            dropped_count: 0,
        }
    }

    /// Up to `max` refused transfers to send again, dropping those of
    /// dropped senders.
    fn take_retries(&mut self, max: usize) -> Vec<(usize, u64)> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some((s, n)) = self.retry.pop_front() else {
                break;
            };
            if !self.dropped[s] {
                out.push((s, n));
            }
        }
        out
    }

    fn add(&mut self, r: BatchResult) {
        self.submitted += r.senders.len();
        self.last_finish = self.last_finish.max(Some(r.finished_at));
        let outcomes = match r.outcome {
            Ok(o) => o,
            Err(e) => {
                *self.reasons.entry(e).or_default() += r.senders.len();
                vec![None; r.senders.len()]
            }
        };
        let mut errors = r.errors.into_iter();
        for (&(s, nonce), h) in r.senders.iter().zip(outcomes) {
            match h {
                Some(h) => {
                    self.submit_at.insert(h, r.submitted_at);
                }
                None => {
                    self.refused += 1;
                    if let Some(e) = errors.next() {
                        *self.reasons.entry(e).or_default() += 1;
                    }
                    self.refusals[s] += 1;
                    if self.refusals[s] > MAX_REFUSALS_PER_SENDER {
                        if !self.dropped[s] {
                            self.dropped[s] = true;
                            self.dropped_count += 1;
                        }
                    } else {
                        self.retry.push_back((s, nonce));
                    }
                }
            }
        }
    }
}

struct Report {
    value: serde_json::Value,
    text: String,
    failure: Option<String>,
}

pub async fn net(a: BenchNetArgs, json: bool) -> anyhow::Result<()> {
    if a.nodes == 0 || a.nodes > 64 {
        bail!("--nodes must be 1 to 64");
    }
    if a.tps < 5 {
        bail!("--tps must be at least 5 (one transfer per 100 ms tick)");
    }
    if a.accounts == 0 || a.accounts > 1_000_000 {
        bail!("--accounts must be 1 to 1000000");
    }
    if a.slot_ms == 0 {
        bail!("--slot-ms must be positive");
    }
    let tmp = tempfile::Builder::new()
        .prefix("umbra-bench-net-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let mut net = Network {
        launcher: None,
        nodes: Vec::new(),
        net_dir: tmp.path().join("net"),
        keep: a.keep_dir,
        dir: None,
    };
    let root = tmp.path().to_path_buf();
    net.dir = Some(tmp);
    let result = tokio::select! {
        r = run(&a, json, &mut net, &root) => r,
        _ = crate::run_node::wait_for_shutdown() => Err(anyhow!("interrupted")),
    };
    // Stop the network before printing anything.
    net.stop();
    let report = result?;
    crate::output::emit(json, &report.value, || report.text.clone())?;
    if let Some(f) = report.failure {
        bail!(f);
    }
    Ok(())
}

async fn run(
    a: &BenchNetArgs,
    json: bool,
    net: &mut Network,
    root: &Path,
) -> anyhow::Result<Report> {
    let say = |msg: String| {
        if !json {
            eprintln!("{msg}");
        }
    };
    let keep_hint = if a.keep_dir {
        ""
    } else {
        " (rerun with --keep-dir to keep the logs)"
    };

    // 1. The network.
    let program = std::env::current_exe().context("cannot find the umbra binary")?;
    let launcher_out = root.join("launcher.out");
    let launcher_log = root.join("launcher.log");
    say(format!(
        "starting a {}-node testnet ({} ms slots) in {}…",
        a.nodes,
        a.slot_ms,
        net.net_dir.display()
    ));
    let child = Command::new(&program)
        .arg("testnet")
        .arg("--exit-with-parent")
        .arg("--nodes")
        .arg(a.nodes.to_string())
        .arg("--dir")
        .arg(&net.net_dir)
        .arg("--slot-ms")
        .arg(a.slot_ms.to_string())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&launcher_out)?)
        .stderr(std::fs::File::create(&launcher_log)?)
        .spawn()
        .with_context(|| format!("cannot start {} testnet", program.display()))?;
    net.launcher = Some(child);
    let json_path = net.net_dir.join("testnet.json");
    let deadline = Instant::now() + Duration::from_secs(90);
    let file: serde_json::Value = loop {
        if json_path.exists() {
            let text = std::fs::read_to_string(&json_path)?;
            break serde_json::from_str(&text)
                .with_context(|| format!("cannot parse {}", json_path.display()))?;
        }
        let status = net
            .launcher
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = status {
            bail!(
                "the testnet launcher exited ({status}) before writing testnet.json{keep_hint}; its log ends:\n{}",
                tail(&launcher_log, 30)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "no testnet.json after 90 s{keep_hint}; the launcher's log ends:\n{}",
                tail(&launcher_log, 30)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let nodes = file["nodes"]
        .as_array()
        .context("testnet.json lists no nodes")?;
    let mut urls = Vec::new();
    let mut logs = Vec::new();
    for n in nodes {
        let rpc = n["rpc"].as_str().context("a node without an rpc URL")?;
        urls.push(rpc.to_string());
        logs.push(PathBuf::from(n["log"].as_str().unwrap_or_default()));
        if let (Some(pid), Some(dir)) = (n["pid"].as_u64(), n["data_dir"].as_str()) {
            net.nodes.push((pid as u32, PathBuf::from(dir)));
        }
    }
    if urls.is_empty() {
        bail!("testnet.json lists no nodes");
    }
    let clients: Vec<Arc<RpcClient>> = urls
        .iter()
        .map(|u| RpcClient::new(u).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let c0 = clients[0].clone();
    let node0_log = logs[0].clone();
    let node0_tail = move || tail(&node0_log, 30);

    // 2. Blocks are coming.
    say(format!(
        "waiting for node 0 ({}) to reach height 3…",
        urls[0]
    ));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(h) = c0.head().await
            && h.height >= 3
        {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "node 0 did not reach height 3 in 90 s{keep_hint}; its log ends:\n{}",
                node0_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let chain_id = match file["chain_id"].as_u64() {
        Some(c) => c,
        None => c0.status().await?.chain_id,
    };

    // 3. Funding.
    let keys: Arc<Vec<Keypair>> = Arc::new((0..a.accounts).map(bench_key).collect());
    fund(&keys, &clients, chain_id, &say).await?;

    // 4 + 5. Load, observed.
    let start_head = c0.head().await?;
    let mut initial = Seen {
        start: start_head.height,
        head: start_head.height,
        node_heads: vec![start_head.height; clients.len()],
        ..Seen::default()
    };
    initial
        .block_hash
        .insert(start_head.height, start_head.hash);
    initial.irreversible = c0
        .status()
        .await?
        .irreversible_height
        .min(start_head.height);
    let seen = Arc::new(Mutex::new(initial));
    let observer = tokio::spawn(observe(c0.clone(), seen.clone()));
    let abort_observer = AbortOnDrop(observer);
    let _abort_heads = AbortOnDrop(tokio::spawn(watch_heads(clients.clone(), seen.clone())));

    let per_tick = ((a.tps as f64) / 10.0).round() as usize;
    let ticks = a.duration.as_millis().div_ceil(TICK.as_millis()) as usize;
    say(format!(
        "load: {per_tick} transfers every 100 ms ({} tx/s) for {:.1} s from {} accounts, round-robin over {} nodes…",
        per_tick * 10,
        a.duration.as_secs_f64(),
        a.accounts,
        clients.len()
    ));
    if per_tick > a.accounts {
        say(format!(
            "note: {per_tick} per tick from {} accounts: senders repeat within a batch",
            a.accounts
        ));
    }
    let mut nonce = vec![0u64; a.accounts];
    let mut cursor = 0usize;
    let (res_tx, mut res_rx) = tokio::sync::mpsc::unbounded_channel::<BatchResult>();
    let batcher = Batcher {
        keys: keys.clone(),
        chain_id,
        clients: clients.clone(),
        slots: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        results: res_tx,
    };
    let mut tally = Tally::new(a.accounts);
    let (mut batches, mut answered) = (0usize, 0usize);

    let load_start = Instant::now();
    let mut interval = tokio::time::interval(TICK);
    let mut last_progress = Instant::now();
    for _ in 0..ticks {
        interval.tick().await;
        while let Ok(r) = res_rx.try_recv() {
            tally.add(r);
            answered += 1;
        }
        if tally.dropped_count == a.accounts {
            say("every sender was refused too often; stopping the load early".into());
            break;
        }
        // Refused nonces first: their senders' later nonces wait on them.
        let mut plan = tally.take_retries(per_tick);
        while plan.len() < per_tick {
            let s = cursor % a.accounts;
            cursor += 1;
            if tally.dropped[s] {
                continue;
            }
            plan.push((s, nonce[s]));
            nonce[s] += 1;
        }
        let ref_block = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ref_block();
        batcher.spawn(plan, batches, ref_block).await?;
        batches += 1;
        if last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            let s = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            say(format!(
                "  {:>5.1} s: {} sent, {} refused, head {}, irreversible {}",
                load_start.elapsed().as_secs_f64(),
                tally.submitted,
                tally.refused,
                s.head,
                s.irreversible
            ));
        }
    }
    // Send again what was refused at the end. Every refusal counts against
    // its sender, so this ends.
    loop {
        while answered < batches {
            let r = res_rx.recv().await.context("a submit task vanished")?;
            tally.add(r);
            answered += 1;
        }
        let plan = tally.take_retries(usize::MAX);
        if plan.is_empty() {
            break;
        }
        let ref_block = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ref_block();
        for chunk in plan.chunks(per_tick) {
            batcher.spawn(chunk.to_vec(), batches, ref_block).await?;
            batches += 1;
        }
    }
    drop(batcher);
    let Tally {
        submitted,
        refused,
        reasons,
        last_finish,
        submit_at,
        dropped_count,
        ..
    } = tally;
    let load_secs = last_finish
        .map_or(Duration::ZERO, |t| t.saturating_duration_since(load_start))
        .as_secs_f64();
    let accepted = submit_at.len();
    say(format!(
        "load done: {submitted} sent in {load_secs:.1} s, {refused} refused; waiting up to {} s for inclusion and finality…",
        DRAIN.as_secs()
    ));

    // 6. Drain.
    let drain_end = Instant::now() + DRAIN;
    let mut last_progress = Instant::now();
    loop {
        let (included, finalized) = {
            let s = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            count(&submit_at, &s)
        };
        if included == accepted && finalized == accepted {
            break;
        }
        if Instant::now() > drain_end {
            say(format!(
                "gave up after {} s: {included} of {accepted} included, {finalized} final",
                DRAIN.as_secs()
            ));
            break;
        }
        if abort_observer.0.is_finished() {
            bail!("the observer stopped");
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            say(format!(
                "  draining: {included}/{accepted} included, {finalized} final"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(abort_observer);

    // 7. Results.
    let s = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut incl = Vec::new();
    let mut fin = Vec::new();
    for (h, t0) in &submit_at {
        if let Some((height, t1)) = s.included.get(h) {
            incl.push(t1.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
            if let Some(t2) = s.final_at.get(height) {
                fin.push(t2.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
            }
        }
    }
    incl.sort_by(f64::total_cmp);
    fin.sort_by(f64::total_cmp);
    let q = |v: &[f64]| {
        serde_json::json!({
            "p50": quantile(v, 0.5),
            "p99": quantile(v, 0.99),
            "max": quantile(v, 1.0),
        })
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tps_submitted = if load_secs > 0.0 {
        submitted as f64 / load_secs
    } else {
        0.0
    };
    let top_reasons: Vec<serde_json::Value> = {
        let mut r: Vec<_> = reasons.iter().collect();
        r.sort_by(|x, y| y.1.cmp(x.1));
        r.iter()
            .take(5)
            .map(|(m, n)| serde_json::json!({"reason": m, "count": n}))
            .collect()
    };
    let value = serde_json::json!({
        "bench": "net",
        "nodes": clients.len(),
        "slot_ms": a.slot_ms,
        "tps_target": a.tps,
        "tps_submitted": tps_submitted,
        "duration_s": load_secs,
        "accounts": a.accounts,
        "submitted": submitted,
        "refused": refused,
        "accepted": accepted,
        "included": incl.len(),
        "finalized": fin.len(),
        "inclusion_ms": q(&incl),
        "finality_ms": q(&fin),
        "blocks": s.head - s.start,
        "reorgs": s.reorgs,
        "max_block_txs": s.max_block_txs,
        "senders_dropped": dropped_count,
        "refusals": top_reasons,
        "observer_errors": s.errors,
        "machine": format!("{cores} cores"),
    });
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.0} ms"));
    let mut text = format!(
        "bench net: {} nodes, {} ms slots, target {} tx/s, {:.1} s of load ({cores} cores)\n\
         \x20 submitted  {submitted} ({tps_submitted:.1} tx/s), refused {refused}\n\
         \x20 included   {} of {accepted} accepted, finalized {}\n\
         \x20 blocks     {} on node 0 (largest {} txs)\n\
         \x20               {:>9} {:>9} {:>9}\n\
         \x20 inclusion  {:>9} {:>9} {:>9}\n\
         \x20 finality   {:>9} {:>9} {:>9}",
        clients.len(),
        a.slot_ms,
        a.tps,
        load_secs,
        incl.len(),
        fin.len(),
        s.head - s.start,
        s.max_block_txs,
        "p50",
        "p99",
        "max",
        ms(quantile(&incl, 0.5)),
        ms(quantile(&incl, 0.99)),
        ms(quantile(&incl, 1.0)),
        ms(quantile(&fin, 0.5)),
        ms(quantile(&fin, 0.99)),
        ms(quantile(&fin, 1.0)),
    );
    for (m, n) in reasons.iter().take(5) {
        text.push_str(&format!("\n  refused ×{n}: {m}"));
    }
    if dropped_count > 0 {
        text.push_str(&format!(
            "\n  senders dropped after {MAX_REFUSALS_PER_SENDER} refusals: {dropped_count} (their later transfers wait for ever)"
        ));
    }
    if s.reorgs > 0 {
        text.push_str(&format!("\n  reorgs seen on node 0: {}", s.reorgs));
    }
    if s.errors > 0 {
        text.push_str(&format!(
            "\n  observer: {} failed polls of node 0 (last: {})",
            s.errors,
            s.last_error.as_deref().unwrap_or("")
        ));
    }
    let failure = (incl.is_empty() && accepted > 0)
        .then(|| format!("none of {accepted} accepted transfers was included"));
    Ok(Report {
        value,
        text,
        failure,
    })
}

/// Included and finalized counts of the accepted transactions.
fn count(submit_at: &HashMap<Hash, Instant>, s: &Seen) -> (usize, usize) {
    let (mut included, mut finalized) = (0, 0);
    for h in submit_at.keys() {
        if let Some((height, _)) = s.included.get(h) {
            included += 1;
            if s.final_at.contains_key(height) {
                finalized += 1;
            }
        }
    }
    (included, finalized)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Funds every bench account from the dev accounts (dev j funds the
/// accounts i with i % 10 == j), in waves the mempool's per-sender limit
/// allows, and waits until every node sees the money.
async fn fund(
    keys: &[Keypair],
    clients: &[Arc<RpcClient>],
    chain_id: u64,
    say: &impl Fn(String),
) -> anyhow::Result<()> {
    let c0 = &clients[0];
    let devs: Vec<Keypair> = DEV_ACCOUNT_NAMES.iter().map(|n| dev_keypair(n)).collect();
    let mut todo: Vec<Vec<usize>> = vec![Vec::new(); devs.len()];
    for i in 0..keys.len() {
        todo[i % devs.len()].push(i);
    }
    let last: Vec<Option<usize>> = todo.iter().map(|t| t.last().copied()).collect();
    let per_dev = todo[0].len() as Amount;
    let mut nonce = Vec::new();
    let mut amount = FUNDING_MAX;
    for d in &devs {
        let acc = c0.account(&d.address()).await?;
        let balance: Amount = acc.balance.parse().context("dev balance")?;
        amount = amount.min(balance / 2 / per_dev.max(1));
        nonce.push(acc.pending_nonce);
    }
    if amount == 0 {
        bail!("the dev accounts cannot fund {} accounts", keys.len());
    }
    say(format!(
        "funding {} accounts with {} UMB each from the {} dev accounts…",
        keys.len(),
        umbra_types::format_amount(amount),
        devs.len()
    ));
    let sign = |j: usize, nonce: u64, to: usize, head: &umbra_rpc::HeaderView| {
        let d = &devs[j];
        let tx = d.sign_transaction(UnsignedTransaction {
            chain_id,
            sender: d.public(),
            nonce,
            ref_block: RefBlock::new(head.height, &head.hash),
            max_fee: MAX_FEE,
            payload: Payload::Transfer {
                to: keys[to].address(),
                amount,
            },
        });
        hex::encode(encode(&tx))
    };
    let started = Instant::now();
    let mut funded = 0usize;
    while todo.iter().any(|t| !t.is_empty()) {
        let head = c0.head().await?;
        // Per dev account: (nonce, recipient) of this wave.
        let mut wave: Vec<Vec<(u64, usize)>> = vec![Vec::new(); devs.len()];
        let mut hexes = Vec::new();
        for j in 0..devs.len() {
            let take = todo[j].len().min(FUNDING_WAVE);
            for i in todo[j].drain(..take) {
                wave[j].push((nonce[j], i));
                hexes.push(sign(j, nonce[j], i, &head));
                nonce[j] += 1;
            }
        }
        let size = hexes.len();
        for chunk in hexes.chunks(MAX_BATCH) {
            let out = c0.submit_batch(chunk.to_vec()).await?;
            if let Some(e) = out.iter().find_map(|o| o.error.as_ref()) {
                bail!(
                    "node 0 refused a funding transfer: {} ({})",
                    e.message,
                    e.code
                );
            }
        }
        // Included on node 0: every dev's chain nonce caught up. One stuck
        // for a while gets its missing transfers again (a node may lose
        // one from its mempool, in a reorg say).
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut progress: Vec<(u64, Instant)> = vec![(u64::MAX, Instant::now()); devs.len()];
        loop {
            let mut behind = None;
            for (j, d) in devs.iter().enumerate() {
                let acc = c0.account(&d.address()).await?;
                if acc.nonce >= nonce[j] {
                    continue;
                }
                behind = Some((j, acc.clone()));
                if progress[j].0 != acc.nonce {
                    progress[j] = (acc.nonce, Instant::now());
                } else if progress[j].1.elapsed() > FUNDING_RESEND_AFTER {
                    let head = c0.head().await?;
                    let again: Vec<String> = wave[j]
                        .iter()
                        .filter(|(n, _)| *n >= acc.nonce)
                        .map(|&(n, i)| sign(j, n, i, &head))
                        .collect();
                    say(format!(
                        "  dev:{} stuck at nonce {} of {} (pending nonce {}); sending its last {} funding transfers again",
                        DEV_ACCOUNT_NAMES[j],
                        acc.nonce,
                        nonce[j],
                        acc.pending_nonce,
                        again.len()
                    ));
                    for chunk in again.chunks(MAX_BATCH) {
                        // Refusals (already pending) are expected here.
                        c0.submit_batch(chunk.to_vec()).await?;
                    }
                    progress[j].1 = Instant::now();
                }
            }
            let Some((j, acc)) = behind else { break };
            if Instant::now() > deadline {
                let st = c0.status().await?;
                bail!(
                    "funding stalled on node 0: dev:{} at nonce {} of {} (pending nonce {}) after 120 s; \
                     node 0 at height {}, mempool {} ready, {} queued",
                    DEV_ACCOUNT_NAMES[j],
                    acc.nonce,
                    nonce[j],
                    acc.pending_nonce,
                    st.height,
                    st.mempool_ready,
                    st.mempool_queued
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        funded += size;
        say(format!(
            "  funded {funded}/{} ({:.1} s)",
            keys.len(),
            started.elapsed().as_secs_f64()
        ));
    }
    // Every node has the money before the load sends it transfers.
    let deadline = Instant::now() + Duration::from_secs(60);
    'nodes: for c in clients {
        loop {
            let mut all = true;
            for i in last.iter().flatten() {
                let ok = match c.account(&keys[*i].address()).await {
                    Ok(acc) => acc.balance.parse::<Amount>().unwrap_or(0) >= amount,
                    Err(_) => false,
                };
                if !ok {
                    all = false;
                    break;
                }
            }
            if all {
                continue 'nodes;
            }
            if Instant::now() > deadline {
                bail!("{} does not see the funding after 60 s", c.url());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}
