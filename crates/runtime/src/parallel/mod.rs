//! Parallel block execution whose result always equals sequential execution
//! in block order.
//!
//! How a block runs:
//! 1. Every transaction declares its resource set. A transaction that is not
//!    parallelisable is a barrier: the run of transactions before it is
//!    executed (in parallel), then it runs alone, then the next run.
//! 2. In a run, transactions sharing a written key are joined into conflict
//!    groups (union-find). Keys only read join nothing; fee credits are
//!    deltas and join nothing.
//! 3. Groups are packed into work units, executed on the thread pool, each
//!    unit with its own overlay on the same pre-state, and merged. Groups
//!    share no written key, so merge order cannot change the result.
//! 4. Safety net: each transaction runs under a guard that notes reads and
//!    writes outside its declared set. A unit where that happened is thrown
//!    away and its transactions re-run sequentially, in block order, after
//!    the others, recording what they touch. If the re-run read a key another
//!    group wrote, or wrote a key another group declared, the order between
//!    them mattered and the block is re-executed sequentially from scratch.
//!    Either way no transaction is dropped or changed by the scheduler.
//!
//! When one group dominates a run there is nothing to gain, so the run is
//! executed on the calling thread without the parallel machinery.

mod grouping;
mod outcomes;
mod runs;
mod stats;
mod views;

pub use grouping::{conflict_groups, pack};
pub use stats::{ExecStats, ExecStatsSnapshot};

use crate::boxes::keys::region_of;
use crate::context::BlockContext;
use crate::error::ExecError;
use crate::executor::{
    BlockOutput, Credits, ExecMode, Executor, ExecutorInfo, SequentialExecutor,
    apply_transaction_as, begin_block, end_block, execute_in_order,
};
use crate::overlay::{KeyHasher, Overlay};
use crate::resources::{ResourceSet, resources_of_sender};
use crate::sorted_run::{Run, run_has, sorted_run};
use grouping::{Fingerprints, Prints, conflict_groups_of};
use outcomes::{Outcome, Outcomes};
use rayon::prelude::*;
use runs::merge_runs;
use std::collections::HashSet;
use std::ops::Range;
use umbra_storage::StateView;
use umbra_types::{Address, Transaction};
use views::{Layered, Recorder};

/// Runs shorter than this execute on one thread: the pool's hand-off costs
/// more than it saves.
pub const MIN_PARALLEL_TXS: usize = 64;
/// Work units per thread, so one slow unit does not leave a core idle.
const UNITS_PER_THREAD: usize = 4;
/// More threads than this is a mistake, not a machine.
pub const MAX_THREADS: usize = 256;
/// The dominance check looks at this fraction (1/N) of a block first.
const SAMPLE_FRACTION: usize = 16;

type KeySet<'a> = HashSet<&'a [u8], KeyHasher>;

/// How a transaction declares what it touches, given its sender's address
/// (derived by the executor). Normally [`resources_of_sender`]; tests
/// substitute a lying declaration to exercise the safety net.
pub type Declare = fn(&Transaction, &Address) -> ResourceSet;

/// The thread pool could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the executor's threads: {0}")]
pub struct PoolError(String);

/// Executes conflict groups concurrently on its own thread pool.
pub struct ParallelExecutor {
    pool: rayon::ThreadPool,
    threads: usize,
    declare: Declare,
    stats: ExecStats,
}

/// What the look at a block's start decided, with what it derived.
enum Sample {
    /// Too few transactions or threads to look.
    TooSmall,
    /// One group dominates: run in order; the sample's senders.
    Dominated(Vec<Address>),
    /// Worth declaring the rest: the sample's senders and declarations.
    Parallel(Vec<Address>, Declared),
}

/// Each transaction's declared resource set and its fingerprints, taken by
/// the worker that built the set, while it is still in that core's cache.
struct Declared {
    sets: Vec<ResourceSet>,
    prints: Vec<Prints>,
    f: Fingerprints,
}

enum UnitResult {
    Clean {
        changes: Run,
        outcomes: Vec<(usize, Outcome)>,
        credits: Credits,
    },
    Strayed,
    Failed(ExecError),
}

impl ParallelExecutor {
    /// An executor with `threads` workers; 0 means one per available core.
    pub fn new(threads: usize) -> Result<Self, PoolError> {
        Self::with_declarations(threads, resources_of_sender)
    }

    /// Like [`ParallelExecutor::new`] with another declaration function.
    /// Only tests and benchmarks want this: a declaration that is wrong makes
    /// the safety net fire on every block.
    pub fn with_declarations(threads: usize, declare: Declare) -> Result<Self, PoolError> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        if threads > MAX_THREADS {
            return Err(PoolError(format!(
                "{threads} threads asked for, at most {MAX_THREADS}"
            )));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("umbra-exec-{i}"))
            .build()
            .map_err(|e| PoolError(e.to_string()))?;
        Ok(ParallelExecutor {
            pool,
            threads,
            declare,
            stats: ExecStats::default(),
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn stats(&self) -> ExecStatsSnapshot {
        self.stats.snapshot()
    }
}

impl Executor for ParallelExecutor {
    fn execute_block(
        &self,
        state: &(dyn StateView + Sync),
        ctx: &BlockContext<'_>,
        txs: &[Transaction],
        mode: ExecMode,
    ) -> Result<BlockOutput, ExecError> {
        ExecStats::bump(&self.stats.blocks, 1);
        let sample = if self.threads < 2 || txs.len() < MIN_PARALLEL_TXS {
            Sample::TooSmall
        } else {
            self.sample_unless_dominated(txs, Fingerprints::default())
        };
        let (senders, declared) = match sample {
            Sample::Parallel(senders, declared) => (senders, declared),
            Sample::Dominated(senders) => {
                ExecStats::bump(&self.stats.sequential_phases, 1);
                return execute_in_order(state, ctx, txs, mode, &senders);
            }
            Sample::TooSmall => {
                ExecStats::bump(&self.stats.sequential_phases, 1);
                return SequentialExecutor.execute_block(state, ctx, txs, mode);
            }
        };
        let declare = self.declare;
        let sampled = declared.sets.len();
        let Declared { sets, prints, f } = declared;
        let mut all = ((senders, sets), prints);
        // Straight into the sample's vectors: no second copy of 20,000 sets.
        self.pool.install(|| {
            all.par_extend(txs[sampled..].par_iter().map(|t| {
                let from = t.sender_address();
                let set = declare(t, &from);
                let print = f.of(&set);
                ((from, set), print)
            }))
        });
        let ((senders, sets), prints) = all;
        let declared = Declared { sets, prints, f };
        let mut run = BlockRun {
            main: Overlay::new(state),
            pending: Vec::new(),
            outcomes: Outcomes::new(txs.len()),
            credits: Credits::default(),
            senders,
        };
        begin_block(&mut run.main, ctx);
        let mut start = 0;
        while start < txs.len() {
            let end = (start..txs.len())
                .find(|&i| !declared.sets[i].parallel)
                .unwrap_or(txs.len());
            if end > start && !self.run_phase(state, &mut run, ctx, txs, &declared, start..end)? {
                ExecStats::bump(&self.stats.full_fallbacks, 1);
                tracing::warn!(
                    height = ctx.height,
                    "parallel re-run depended on other groups; executing the block sequentially"
                );
                return execute_in_order(state, ctx, txs, mode, &run.senders);
            }
            if end < txs.len() {
                run.settle();
                let from = run.senders[end];
                let r = apply_transaction_as(&mut run.main, ctx, &txs[end], from)?;
                run.record(vec![(end, r)]);
            }
            start = end + 1;
        }
        let credited = run.credits.account_keys();
        if run
            .pending
            .iter()
            .any(|layer| credited.iter().any(|k| run_has(layer, k)))
        {
            run.settle();
        }
        // No credited account is in a pending layer now, so crediting in
        // `main` (the oldest layer) cannot be overridden.
        end_block(&mut run.main, &run.credits)?;
        let mut layers = vec![sorted_run(run.main.into_writes())];
        layers.append(&mut run.pending);
        // The change set and the receipts are independent: built at once.
        // The merge is cut finer than one range per thread, so the thread
        // assembling receipts takes its share of ranges when it is done.
        let (changes, out) = self.pool.install(|| {
            rayon::join(
                || merge_runs(layers, self.threads * 2),
                || run.outcomes.assemble(mode),
            )
        });
        // Tens of thousands of small declarations are freed on an idle
        // worker instead of on the block's critical path.
        let senders = std::mem::take(&mut run.senders);
        self.pool.spawn(move || drop((declared, senders)));
        let mut out = out?;
        out.changes = changes;
        Ok(out)
    }

    fn info(&self) -> ExecutorInfo {
        ExecutorInfo {
            kind: "parallel",
            threads: self.threads,
            stats: self.stats(),
        }
    }
}

/// The state of one block's execution between phases.
struct BlockRun<'a> {
    main: Overlay<'a>,
    /// Writes of finished work units, newer than `main`, not yet merged
    /// into it: merging costs a hash insert per key, and usually nothing
    /// runs after the parallel phase, so they go straight to the final merge.
    pending: Vec<Run>,
    outcomes: Outcomes,
    credits: Credits,
    /// Each transaction's sender address, derived once when declaring.
    senders: Vec<Address>,
}

impl BlockRun<'_> {
    /// Merges pending unit writes into `main`, before anything reads it.
    fn settle(&mut self) {
        let n = self.pending.iter().map(Vec::len).sum();
        self.main.reserve(n);
        for run in self.pending.drain(..) {
            self.main.absorb(run.into_iter().map(|(_, k, v)| (k, v)));
        }
    }

    /// Records outcomes of transactions executed on `main`, in block order.
    fn record(&mut self, outcomes: Vec<(usize, Outcome)>) {
        for (_, o) in &outcomes {
            if let Ok(r) = o {
                self.credits.add(r);
            }
        }
        self.outcomes.add(outcomes);
    }
}

/// Whether the critical path (the largest group, or an even share per
/// thread) is so long that the best case gains less than 1.25×.
fn dominant(largest: usize, n: usize, threads: usize) -> bool {
    largest.max(n.div_ceil(threads)) * 5 > n * 4
}

impl ParallelExecutor {
    /// A cheap look at the block's start: if one group already dominates a
    /// sample, the whole block runs sequentially without declaring and
    /// grouping every transaction. Either way what the look derived is
    /// returned for reuse. Only speed depends on this guess; the result is
    /// the same either way.
    fn sample_unless_dominated(&self, txs: &[Transaction], f: Fingerprints) -> Sample {
        let sample = &txs[..(txs.len() / SAMPLE_FRACTION)
            .max(MIN_PARALLEL_TXS)
            .min(txs.len())];
        let declare = self.declare;
        let ((senders, sets), prints): ((Vec<Address>, Vec<ResourceSet>), Vec<Prints>) =
            self.pool.install(|| {
                sample
                    .par_iter()
                    .map(|t| {
                        let from = t.sender_address();
                        let set = declare(t, &from);
                        let print = f.of(&set);
                        ((from, set), print)
                    })
                    .unzip()
            });
        if sets.iter().all(|d| d.parallel)
            && dominant(
                conflict_groups_of(&sets, &prints, &f).largest(),
                sample.len(),
                self.threads,
            )
        {
            return Sample::Dominated(senders);
        }
        Sample::Parallel(senders, Declared { sets, prints, f })
    }

    /// Executes the parallelisable transactions `range`. `Ok(false)` means
    /// the safety net could not prove the re-run independent; the caller
    /// then executes the whole block sequentially.
    fn run_phase(
        &self,
        state: &(dyn StateView + Sync),
        run: &mut BlockRun<'_>,
        ctx: &BlockContext<'_>,
        txs: &[Transaction],
        declared: &Declared,
        range: Range<usize>,
    ) -> Result<bool, ExecError> {
        let n = range.len();
        let groups = if n >= MIN_PARALLEL_TXS {
            let sets = &declared.sets[range.clone()];
            let prints = &declared.prints[range.clone()];
            // On the calling thread: with the fingerprints taken, grouping is
            // one pass of hash lookups over them, and splitting the key space
            // across the pool measured slower (1.2 ms against 0.65 ms a
            // 20,000-transfer block).
            Some(conflict_groups_of(sets, prints, &declared.f))
        } else {
            None
        };
        let Some(groups) =
            groups.filter(|g| g.sizes.len() >= 2 && !dominant(g.largest(), n, self.threads))
        else {
            ExecStats::bump(&self.stats.sequential_phases, 1);
            run.settle();
            let mut outcomes = Vec::with_capacity(range.len());
            for i in range {
                let r = apply_transaction_as(&mut run.main, ctx, &txs[i], run.senders[i])?;
                outcomes.push((i, r));
            }
            run.record(outcomes);
            return Ok(true);
        };
        ExecStats::bump(&self.stats.parallel_phases, 1);
        run.settle();
        let mut units = pack(&groups, self.threads * UNITS_PER_THREAD);
        for unit in &mut units {
            for i in unit.iter_mut() {
                *i += range.start;
            }
        }
        let results: Vec<UnitResult> = {
            let base = Layered {
                base: state,
                top: run.main.writes(),
            };
            self.pool.install(|| {
                units
                    .par_iter()
                    .map(|unit| run_unit(&base, ctx, txs, &declared.sets, &run.senders, unit))
                    .collect()
            })
        };
        let mut strayed = vec![false; txs.len()];
        let mut rerun: Vec<usize> = Vec::new();
        for (unit, result) in units.iter().zip(results) {
            match result {
                UnitResult::Clean {
                    changes,
                    outcomes,
                    credits,
                } => {
                    run.pending.push(changes);
                    run.credits.merge(credits);
                    run.outcomes.add(outcomes);
                }
                UnitResult::Strayed => {
                    ExecStats::bump(&self.stats.strayed_units, 1);
                    for &i in unit {
                        strayed[i] = true;
                    }
                    rerun.extend_from_slice(unit);
                }
                UnitResult::Failed(e) => return Err(e),
            }
        }
        if rerun.is_empty() {
            return Ok(true);
        }
        rerun.sort_unstable();
        ExecStats::bump(&self.stats.rerun_txs, rerun.len() as u64);
        tracing::warn!(
            height = ctx.height,
            txs = rerun.len(),
            "transactions touched undeclared state; re-running them sequentially"
        );
        self.rerun(run, ctx, txs, &declared.sets, range, &strayed, &rerun)
    }

    /// Re-executes strayed transactions in block order on top of the clean
    /// groups' results, and checks the two sides could not have seen each
    /// other: then the combined result is the sequential one.
    #[allow(clippy::too_many_arguments)]
    fn rerun(
        &self,
        run: &mut BlockRun<'_>,
        ctx: &BlockContext<'_>,
        txs: &[Transaction],
        declared: &[ResourceSet],
        range: Range<usize>,
        strayed: &[bool],
        rerun: &[usize],
    ) -> Result<bool, ExecError> {
        run.settle();
        let mut clean_writes: KeySet<'_> = KeySet::default();
        let mut clean_touched: KeySet<'_> = KeySet::default();
        for i in range.filter(|&i| !strayed[i]) {
            for w in &declared[i].writes {
                clean_writes.insert(w);
                clean_touched.insert(w);
            }
            for r in &declared[i].reads {
                clean_touched.insert(r);
            }
        }
        let (writes, reads, outcomes) = {
            let recorder = Recorder::new(&run.main);
            let mut overlay = Overlay::new(&recorder);
            let mut outcomes = Vec::with_capacity(rerun.len());
            for &i in rerun {
                let from = run.senders[i];
                outcomes.push((i, apply_transaction_as(&mut overlay, ctx, &txs[i], from)?));
            }
            let writes = overlay.into_writes();
            (writes, recorder.into_reads(), outcomes)
        };
        // Keys inside a box region were declared as the region.
        let hit = |set: &KeySet<'_>, k: &[u8]| {
            set.contains(k) || region_of(k).is_some_and(|r| set.contains(r))
        };
        let independent = !reads.iter().any(|k| hit(&clean_writes, k))
            && !writes.keys().any(|k| hit(&clean_touched, k));
        if !independent {
            return Ok(false);
        }
        run.main.absorb(writes);
        run.record(outcomes);
        Ok(true)
    }
}

/// Runs one work unit's transactions in order on a private overlay, each
/// guarded by its own declaration. Stops at the first that strays.
fn run_unit(
    base: &Layered<'_>,
    ctx: &BlockContext<'_>,
    txs: &[Transaction],
    declared: &[ResourceSet],
    senders: &[Address],
    unit: &[usize],
) -> UnitResult {
    let mut overlay = Overlay::new(base);
    overlay.reserve(unit.len() * 2);
    let mut outcomes = Vec::with_capacity(unit.len());
    let mut credits = Credits::default();
    for &i in unit {
        overlay.set_guard(Some(&declared[i]));
        let outcome = match apply_transaction_as(&mut overlay, ctx, &txs[i], senders[i]) {
            Ok(o) => o,
            // A failure after straying may come from state the sequential
            // order would not have shown it: let the re-run decide.
            Err(_) if overlay.strayed() => return UnitResult::Strayed,
            Err(e) => return UnitResult::Failed(e),
        };
        if overlay.strayed() {
            return UnitResult::Strayed;
        }
        if let Ok(r) = &outcome {
            credits.add(r);
        }
        outcomes.push((i, outcome));
    }
    UnitResult::Clean {
        changes: sorted_run(overlay.into_writes()),
        outcomes,
        credits,
    }
}

#[cfg(test)]
mod tests;
