//! `umbra bench exec`: block execution throughput, sequential against
//! parallel, without signatures or networking — execution alone on an
//! in-memory state, and execution with the JMT root and the RocksDB commit.

use crate::cli::{BenchExecArgs, ExecWorkload};
use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::Serialize;
use std::time::{Duration, Instant};
use umbra_crypto::{Keypair, dev_keypair};
use umbra_node::spec::{ConsensusSpec, GenesisBalance};
use umbra_node::{Chain, ChainSpec};
use umbra_runtime::boxes::{BoxRecord, Gate, keys as box_keys};
use umbra_runtime::{
    Account, BlockContext, ChainParams, ExecMode, Executor, ParallelExecutor, RefBlocks,
    SequentialExecutor, keys,
};
use umbra_storage::{StateView, StorageError, Store, StoreConfig};
use umbra_types::{
    Address, GateKind, Hash, MessageBody, Payload, RefBlock, Signature, Transaction, TxStatus,
    encode, parse_amount, sha256,
};

const CHAIN_ID: u64 = 4243;

/// One measured case.
#[derive(Serialize)]
struct Case {
    mode: &'static str,
    executor: &'static str,
    threads: usize,
    hot_ratio: f64,
    txs: usize,
    blocks: usize,
    seconds: f64,
    tps: f64,
    /// Against the sequential executor on the same workload and mode.
    speedup: f64,
    /// `commit` only: time spent building blocks (execution + JMT root) and
    /// writing them (RocksDB batch), in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    produce_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit_ms: Option<f64>,
    /// What this machine gave at the time: the work rate of `threads`
    /// threads running independent hashing, relative to one thread. On a
    /// shared VM this is often well below `threads`, and no executor can
    /// beat it; read `speedup` against it.
    machine_scaling: f64,
    /// The same for register-only arithmetic, which keeps a core's
    /// execution units busy and touches no memory: below `threads` only
    /// when the threads share a physical core (see `bench_machine`).
    machine_alu: f64,
    /// The same for a pointer chase in L1, which leaves execution units
    /// idle: near `threads` even on hyperthreads of one core.
    machine_chase: f64,
    /// The best a scheduler could do on this workload here: each block's
    /// transactions cut into `threads` slices, each run by the sequential
    /// executor on its own thread at once, against the same slices one
    /// after another, summed over the blocks, best of `--repeat` passes (no
    /// grouping, no merge; at hot ratio 0 the slices share no key). Like
    /// `machine_scaling`, a reading of the machine at that moment: read
    /// `speedup` against it.
    transfer_ceiling: f64,
    /// Digest of every block's state changes (exec) or the final state root
    /// (commit); equal for both executors or the run fails.
    result: Hash,
}

struct Workload {
    kind: ExecWorkload,
    senders: Vec<Keypair>,
    blocks: Vec<Vec<Transaction>>,
}

/// xorshift64*: a fixed, dependency-free stream so every run measures the
/// same workload.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn receiver(i: usize) -> Address {
    Address(sha256(format!("umbra/bench-receiver/{i}").as_bytes()).0)
}

fn hot_account() -> Address {
    Address(sha256(b"umbra/bench-hot-account").0)
}

/// Sender `i`'s own box in the pushes workload.
fn box_of(i: usize) -> String {
    format!("bench_{i}")
}

const HOT_BOX: &str = "bench_hot";

/// Owner of every bench box. Not a sender, so the write gate's owner
/// short-cut never applies and each push runs the allow-list check.
fn box_owner() -> Address {
    Address(sha256(b"umbra/bench-box-owner").0)
}

/// Transactions from `accounts` senders taken in turn (a block of at most
/// `accounts` transactions has each sender once): transfers to fresh
/// receivers, or to one hot account with probability `hot`; or pushes into
/// the sender's own box, or into one hot box with probability `hot`.
fn workload(a: &BenchExecArgs, hot: f64, senders: &[Keypair], prefix: [u8; 4]) -> Workload {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ hot.to_bits());
    let mut nonces = vec![0u64; senders.len()];
    let hot_addr = hot_account();
    let txs: Vec<Transaction> = (0..a.txs)
        .map(|k| {
            let s = k % senders.len();
            let is_hot = rng.unit() < hot;
            let payload = match a.workload {
                ExecWorkload::Transfers => Payload::Transfer {
                    to: if is_hot {
                        hot_addr
                    } else {
                        receiver(k % a.accounts)
                    },
                    amount: 1_000,
                },
                ExecWorkload::Pushes => Payload::BoxPush {
                    name: if is_hot { HOT_BOX.into() } else { box_of(s) },
                    body: MessageBody::Data(k.to_le_bytes().repeat(8)),
                },
            };
            let nonce = nonces[s];
            nonces[s] += 1;
            Transaction {
                chain_id: CHAIN_ID,
                sender: senders[s].public(),
                nonce,
                ref_block: RefBlock {
                    height: 0,
                    hash_prefix: prefix,
                },
                max_fee: 1_000_000_000,
                payload,
                signature: Signature::default(),
            }
        })
        .collect();
    Workload {
        kind: a.workload,
        senders: senders.to_vec(),
        blocks: txs.chunks(a.block_txs).map(<[_]>::to_vec).collect(),
    }
}

struct GenesisRef([u8; 4]);
impl RefBlocks for GenesisRef {
    fn hash_prefix(&self, height: u64) -> Option<[u8; 4]> {
        (height == 0).then_some(self.0)
    }
}

fn params() -> ChainParams {
    ChainParams {
        ref_block_window: u64::MAX / 2,
        ..ChainParams::default()
    }
}

fn balance() -> u128 {
    parse_amount("1000000").unwrap_or(u128::MAX / 1_000_000)
}

/// The in-memory pre-state of the execution-only cases: a hash map, so the
/// figure measures the executor rather than an ordered map's comparisons.
#[derive(Default)]
struct HashState(rustc_hash::FxHashMap<Vec<u8>, Vec<u8>>);

impl StateView for HashState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.get(key).cloned())
    }
}

/// The senders' accounts, funded, on an in-memory state; for pushes also
/// each sender's box and the hot box, with an allow-list write gate that
/// lists the sender (and every sender on the hot box).
fn genesis_state(w: &Workload) -> anyhow::Result<HashState> {
    let mut state = HashState::default();
    for k in &w.senders {
        state.0.insert(
            keys::account(&k.address()),
            encode(&Account {
                balance: balance(),
                nonce: 0,
            }),
        );
    }
    if w.kind == ExecWorkload::Pushes {
        let code = umbra_sdk::gates::owner_or_listed()?;
        let gate = encode(&Gate {
            gas_bound: umbra_vm::Script::decode(&code)?.gas_bound(),
            code,
        });
        let names = (0..w.senders.len())
            .map(box_of)
            .chain([HOT_BOX.to_string()]);
        for (id, name) in names.enumerate() {
            let rec = BoxRecord {
                id: id as u64,
                owner: box_owner(),
                created_height: 0,
                next_index: 0,
                live: 0,
            };
            state.0.insert(box_keys::record(&name), encode(&rec));
            state
                .0
                .insert(box_keys::gate(&name, GateKind::Write), gate.clone());
            let listed: Box<dyn Iterator<Item = &Keypair>> = if name == HOT_BOX {
                Box::new(w.senders.iter())
            } else {
                Box::new(w.senders.get(id).into_iter())
            };
            for k in listed {
                state
                    .0
                    .insert(box_keys::listed(&name, &k.address()), vec![1]);
            }
        }
    }
    Ok(state)
}

/// See [`Case::transfer_ceiling`]. Every block is measured on the state the
/// blocks before it left, as the executors meet it: the first block alone,
/// on a small and freshly warmed state, reads far higher than the run's
/// later blocks, whose larger state the two threads share a cache for.
/// Which of the two timings comes first alternates from block to block.
/// Like the executors' figures, the best of `repeat` passes each way.
fn transfer_ceiling(
    w: &Workload,
    threads: usize,
    prefix: [u8; 4],
    repeat: usize,
) -> anyhow::Result<f64> {
    // Long-lived threads, as the parallel executor's pool: threads spawned
    // per block would pay for fresh allocator heaps and page faults.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the ceiling's threads")?;
    let (mut one, mut many) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeat {
        let (o, m) = ceiling_pass(w, &pool, prefix)?;
        (one, many) = (one.min(o), many.min(m));
    }
    Ok(one.as_secs_f64() / many.as_secs_f64().max(1e-9))
}

/// One pass of [`transfer_ceiling`] over every block: the slices' time one
/// after another, and at once.
fn ceiling_pass(
    w: &Workload,
    pool: &rayon::ThreadPool,
    prefix: [u8; 4],
) -> anyhow::Result<(Duration, Duration)> {
    let threads = pool.current_num_threads();
    let mut state = genesis_state(w)?;
    let params = params();
    let refs = GenesisRef(prefix);
    let (mut one, mut many) = (Duration::ZERO, Duration::ZERO);
    for (b, txs) in w.blocks.iter().enumerate() {
        let ctx = block_ctx(b, &params, &refs);
        let slices: Vec<&[Transaction]> = txs.chunks(txs.len().div_ceil(threads).max(1)).collect();
        let run = |slice: &[Transaction]| {
            SequentialExecutor
                .execute_block(&state, &ctx, slice, ExecMode::Produce)
                .map(|out| std::hint::black_box(out.included.len()))
        };
        let one_after_another = || -> anyhow::Result<Duration> {
            let t = Instant::now();
            for slice in &slices {
                run(slice)?;
            }
            Ok(t.elapsed())
        };
        let at_once = || -> anyhow::Result<Duration> {
            let t = Instant::now();
            pool.install(|| {
                slices
                    .par_iter()
                    .map(|sl| run(sl))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            Ok(t.elapsed())
        };
        if b % 2 == 0 {
            one += one_after_another()?;
            many += at_once()?;
        } else {
            many += at_once()?;
            one += one_after_another()?;
        }
        let out = SequentialExecutor.execute_block(&state, &ctx, txs, ExecMode::Produce)?;
        apply(&mut state, out.changes);
    }
    Ok((one, many))
}

fn block_ctx<'a>(b: usize, params: &'a ChainParams, refs: &'a GenesisRef) -> BlockContext<'a> {
    BlockContext {
        chain_id: CHAIN_ID,
        height: b as u64 + 1,
        timestamp_ms: b as u64 + 1,
        proposer: Default::default(),
        randomness: [0; 32],
        params,
        ref_blocks: refs,
    }
}

/// Applies a block's changes to the in-memory state (untimed).
fn apply(state: &mut HashState, changes: umbra_runtime::Changes) {
    for (k, v) in changes {
        match v {
            Some(v) => state.0.insert(k, v),
            None => state.0.remove(&k),
        };
    }
}

/// Execution only: each block runs on an in-memory state; applying its
/// changes for the next block is not timed.
fn run_exec(
    w: &Workload,
    exec: &dyn Executor,
    prefix: [u8; 4],
) -> anyhow::Result<(Duration, Hash)> {
    let mut state = genesis_state(w)?;
    let params = params();
    let refs = GenesisRef(prefix);
    let mut spent = Duration::ZERO;
    let mut digest = Hash::ZERO;
    for (b, txs) in w.blocks.iter().enumerate() {
        let ctx = block_ctx(b, &params, &refs);
        let t = Instant::now();
        let out = exec.execute_block(&state, &ctx, txs, ExecMode::Produce)?;
        spent += t.elapsed();
        if out.included.len() != txs.len() {
            bail!(
                "block {b}: only {} of {} transactions included (first rejection: {:?})",
                out.included.len(),
                txs.len(),
                out.rejected.first()
            );
        }
        // A refused gate or short balance still includes the transaction:
        // the figure would then be of failures, not of the work.
        if let Some(r) = out.receipts.iter().find(|r| r.status != TxStatus::Success) {
            bail!("block {b}: a call failed: {:?}", r.status);
        }
        digest = sha256(&encode(&(digest, &out.changes, &out.receipts)));
        apply(&mut state, out.changes);
    }
    Ok((spent, digest))
}

fn spec(senders: &[Keypair], validator: &Keypair) -> ChainSpec {
    ChainSpec {
        name: "umbra-bench-exec".into(),
        chain_id: CHAIN_ID,
        genesis_time_ms: 1_000,
        consensus: ConsensusSpec {
            engine: "solo".into(),
            authorities: vec![validator.public()],
            block_time_ms: 1000,
            aedpos: None,
        },
        balances: senders
            .iter()
            .map(|k| GenesisBalance {
                address: k.address(),
                amount: balance().to_string(),
                name: None,
            })
            .collect(),
        params: params(),
    }
}

fn open_chain(
    dir: &std::path::Path,
    spec: &ChainSpec,
    exec: Box<dyn Executor>,
) -> anyhow::Result<Chain> {
    let store = Store::open(dir, StoreConfig::default())
        .with_context(|| format!("opening a scratch database in {}", dir.display()))?;
    let engine = spec.consensus_engine(1000)?;
    Ok(Chain::open(store, spec.clone(), engine, exec)?)
}

/// Execution, JMT root and RocksDB commit through the node's own chain code.
fn run_commit(
    w: &Workload,
    spec: &ChainSpec,
    validator: &Keypair,
    exec: Box<dyn Executor>,
) -> anyhow::Result<(Duration, Duration, Hash)> {
    let dir = tempfile::tempdir()?;
    let chain = open_chain(dir.path(), spec, exec)?;
    let (mut produce, mut commit) = (Duration::ZERO, Duration::ZERO);
    for (b, txs) in w.blocks.iter().enumerate() {
        let now = chain.head().timestamp_ms + 1000;
        let t = Instant::now();
        let ex = chain.produce(validator, txs, now)?;
        produce += t.elapsed();
        if ex.block.transactions.len() != txs.len() {
            bail!(
                "block {b}: only {} of {} transactions included",
                ex.block.transactions.len(),
                txs.len()
            );
        }
        let t = Instant::now();
        chain.commit(ex)?;
        commit += t.elapsed();
    }
    Ok((produce, commit, chain.head().state_root))
}

fn bench_key(i: usize) -> Keypair {
    Keypair::from_seed(sha256(format!("umbra/bench-account/{i}").as_bytes()).0)
}

pub fn exec(a: BenchExecArgs, json: bool) -> anyhow::Result<()> {
    crate::run_node::init_logs_with("warn");
    if a.txs == 0 || a.accounts == 0 || a.block_txs == 0 || a.threads == 0 || a.repeat == 0 {
        bail!("--txs, --accounts, --block-txs, --threads and --repeat must be positive");
    }
    if a.block_txs as u64 > ChainParams::default().max_block_txs {
        bail!(
            "--block-txs is above the chain's limit of {} per block",
            ChainParams::default().max_block_txs
        );
    }
    if a.workload == ExecWorkload::Pushes && a.mode.includes_commit() {
        bail!(
            "--workload pushes measures execution only (its boxes are placed in an in-memory \
             state, not created on a chain): add --mode exec"
        );
    }
    if let Some(bad) = a.hot_ratio.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        bail!("--hot-ratio {bad} is outside 0..1");
    }
    let validator = dev_keypair("validator");
    eprintln!("preparing {} sender accounts…", a.accounts);
    let senders: Vec<Keypair> = (0..a.accounts).map(bench_key).collect();
    let spec = spec(&senders, &validator);
    // The genesis hash (for reference blocks) comes from opening the chain.
    let prefix = {
        let dir = tempfile::tempdir()?;
        let chain = open_chain(dir.path(), &spec, Box::new(SequentialExecutor))?;
        let h = chain.head().hash();
        [h.0[0], h.0[1], h.0[2], h.0[3]]
    };
    let parallel = ParallelExecutor::new(a.threads)?;
    let mut cases: Vec<Case> = Vec::new();
    for &hot in &a.hot_ratio {
        let w = workload(&a, hot, &senders, prefix);
        let machine = crate::bench_machine::measure(a.threads);
        let ceiling = transfer_ceiling(&w, a.threads, prefix, a.repeat)?;
        let blocks = w.blocks.len();
        let case =
            |mode, executor, threads, d: Duration, result, split: Option<(Duration, Duration)>| {
                let secs = d.as_secs_f64();
                Case {
                    mode,
                    executor,
                    threads,
                    hot_ratio: hot,
                    txs: a.txs,
                    blocks,
                    seconds: secs,
                    tps: if secs > 0.0 { a.txs as f64 / secs } else { 0.0 },
                    speedup: 1.0,
                    produce_ms: split.map(|s| s.0.as_secs_f64() * 1e3),
                    commit_ms: split.map(|s| s.1.as_secs_f64() * 1e3),
                    machine_scaling: machine.hashing,
                    machine_alu: machine.alu,
                    machine_chase: machine.chase,
                    transfer_ceiling: ceiling,
                    result,
                }
            };
        if a.mode.includes_exec() {
            eprintln!("hot ratio {hot}: execution only…");
            // Interleaved repeats, best of each: this machine's timing noise
            // is larger than the effects being measured.
            let (mut ds, mut dp) = (Duration::MAX, Duration::MAX);
            let (mut rs, mut rp) = (Hash::ZERO, Hash::ZERO);
            // Which executor goes first alternates: the second of two
            // back-to-back runs of the same executor measured 0-4% slower.
            for k in 0..a.repeat {
                for parallel_now in [k % 2 == 1, k % 2 == 0] {
                    if parallel_now {
                        let (d, r) = run_exec(&w, &parallel, prefix)?;
                        (dp, rp) = (dp.min(d), r);
                    } else {
                        let (d, r) = run_exec(&w, &SequentialExecutor, prefix)?;
                        (ds, rs) = (ds.min(d), r);
                    }
                }
            }
            if rs != rp {
                bail!("parallel and sequential execution disagree at hot ratio {hot}");
            }
            push_pair(
                &mut cases,
                case("exec", "sequential", 1, ds, rs, None),
                case("exec", "parallel", a.threads, dp, rp, None),
            );
        }
        if a.mode.includes_commit() {
            eprintln!("hot ratio {hot}: execution + JMT + RocksDB commit…");
            let mut best_s: Option<(Duration, Duration, Hash)> = None;
            let mut best_p: Option<(Duration, Duration, Hash)> = None;
            let better = |best: Option<(Duration, Duration, Hash)>,
                          r: (Duration, Duration, Hash)| {
                Some(match best {
                    Some(b) if b.0 + b.1 <= r.0 + r.1 => b,
                    _ => r,
                })
            };
            for k in 0..a.repeat {
                for parallel_now in [k % 2 == 1, k % 2 == 0] {
                    if parallel_now {
                        let exec = Box::new(ParallelExecutor::new(a.threads)?);
                        best_p = better(best_p, run_commit(&w, &spec, &validator, exec)?);
                    } else {
                        let exec = Box::new(SequentialExecutor);
                        best_s = better(best_s, run_commit(&w, &spec, &validator, exec)?);
                    }
                }
            }
            let ((ps, cs, rs), (pp, cp, rp)) = match (best_s, best_p) {
                (Some(s), Some(p)) => (s, p),
                _ => bail!("--repeat must be at least 1"),
            };
            if rs != rp {
                bail!(
                    "parallel and sequential commits reached different state roots at hot ratio {hot}"
                );
            }
            push_pair(
                &mut cases,
                case("commit", "sequential", 1, ps + cs, rs, Some((ps, cs))),
                case("commit", "parallel", a.threads, pp + cp, rp, Some((pp, cp))),
            );
        }
    }
    crate::output::emit(json, &cases, || table(&cases))
}

fn push_pair(cases: &mut Vec<Case>, seq: Case, mut par: Case) {
    if seq.tps > 0.0 {
        par.speedup = par.tps / seq.tps;
    }
    cases.push(seq);
    cases.push(par);
}

fn table(cases: &[Case]) -> String {
    let mut s = String::from(
        "mode    executor    threads  hot   blocks  tx/s        speedup  machine  alu   chase ceiling  produce/commit ms\n",
    );
    for c in cases {
        let split = match (c.produce_ms, c.commit_ms) {
            (Some(p), Some(m)) => format!("{p:.0} / {m:.0}"),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<7} {:<11} {:<8} {:<5} {:<7} {:<11.0} {:<8.2} {:<8.2} {:<5.2} {:<5.2} {:<8.2} {}\n",
            c.mode,
            c.executor,
            c.threads,
            c.hot_ratio,
            c.blocks,
            c.tps,
            c.speedup,
            c.machine_scaling,
            c.machine_alu,
            c.machine_chase,
            c.transfer_ceiling,
            split
        ));
    }
    s.push_str(
        "machine: the work rate of that many threads of independent hashing against one thread, \
         measured just before the case; alu and chase: the same for register-only arithmetic and \
         for a pointer chase in L1 (alu well below chase means the threads share a physical \
         core's execution units); ceiling: every block cut into that many slices, each \
         run by the sequential executor on its own thread at once, against one after another \
         (the best any scheduler could do)",
    );
    s
}
