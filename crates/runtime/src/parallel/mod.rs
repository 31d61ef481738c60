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
mod stats;
mod views;

pub use grouping::{conflict_groups, pack};
pub use stats::{ExecStats, ExecStatsSnapshot};

use crate::Changes;
use crate::context::BlockContext;
use crate::error::{ExecError, TxInvalid};
use crate::executor::{
    BlockOutput, ExecMode, Executor, SequentialExecutor, apply_transaction, begin_block, end_block,
};
use crate::overlay::Overlay;
use crate::resources::{ResourceSet, resources_of};
use rayon::prelude::*;
use rustc_hash::FxHashSet;
use std::ops::Range;
use umbra_storage::StateView;
use umbra_types::{Amount, Receipt, Transaction};
use views::{Guard, Layered, Recorder};

/// Runs shorter than this execute on one thread: the pool's hand-off costs
/// more than it saves.
pub const MIN_PARALLEL_TXS: usize = 64;
/// Work units per thread, so one slow unit does not leave a core idle.
const UNITS_PER_THREAD: usize = 4;

type Outcome = Result<Receipt, TxInvalid>;

/// How a transaction declares what it touches. Normally [`resources_of`];
/// tests substitute a lying declaration to exercise the safety net.
pub type Declare = fn(&Transaction) -> ResourceSet;

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

enum UnitResult {
    Clean {
        changes: Changes,
        outcomes: Vec<(usize, Outcome)>,
        fees: Amount,
    },
    Strayed,
    Failed(ExecError),
}

impl ParallelExecutor {
    /// An executor with `threads` workers; 0 means one per available core.
    pub fn new(threads: usize) -> Result<Self, PoolError> {
        Self::with_declarations(threads, resources_of)
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
        let declare = self.declare;
        let declared: Vec<ResourceSet> = if txs.len() >= MIN_PARALLEL_TXS && self.threads > 1 {
            self.pool.install(|| txs.par_iter().map(declare).collect())
        } else {
            txs.iter().map(declare).collect()
        };
        let mut run = BlockRun {
            main: Overlay::new(state),
            outcomes: (0..txs.len()).map(|_| None).collect(),
            fees: 0,
        };
        begin_block(&mut run.main, ctx);
        let mut start = 0;
        while start < txs.len() {
            let end = (start..txs.len())
                .find(|&i| !declared[i].parallel)
                .unwrap_or(txs.len());
            if end > start && !self.run_phase(state, &mut run, ctx, txs, &declared, start..end)? {
                ExecStats::bump(&self.stats.full_fallbacks, 1);
                tracing::warn!(
                    height = ctx.height,
                    "parallel re-run depended on other groups; executing the block sequentially"
                );
                return SequentialExecutor.execute_block(state, ctx, txs, mode);
            }
            if end < txs.len() {
                let r = apply_transaction(&mut run.main, ctx, &txs[end])?;
                run.record(end, r);
            }
            start = end + 1;
        }
        end_block(&mut run.main, run.fees)?;
        assemble(run.outcomes, run.main.into_changes(), mode)
    }
}

/// The state of one block's execution between phases.
struct BlockRun<'a> {
    main: Overlay<'a>,
    outcomes: Vec<Option<Outcome>>,
    fees: Amount,
}

impl BlockRun<'_> {
    fn record(&mut self, index: usize, outcome: Outcome) {
        if let Ok(r) = &outcome {
            self.fees = self.fees.saturating_add(r.fee_paid);
        }
        self.outcomes[index] = Some(outcome);
    }
}

impl ParallelExecutor {
    /// Executes the parallelisable transactions `range`. `Ok(false)` means
    /// the safety net could not prove the re-run independent; the caller
    /// then executes the whole block sequentially.
    fn run_phase(
        &self,
        state: &(dyn StateView + Sync),
        run: &mut BlockRun<'_>,
        ctx: &BlockContext<'_>,
        txs: &[Transaction],
        declared: &[ResourceSet],
        range: Range<usize>,
    ) -> Result<bool, ExecError> {
        let n = range.len();
        let groups = if n >= MIN_PARALLEL_TXS && self.threads > 1 {
            conflict_groups(&declared[range.clone()], range.start)
        } else {
            Vec::new()
        };
        let largest = groups.iter().map(Vec::len).max().unwrap_or(n);
        // Parallel time is bounded below by the largest group and by n / T;
        // below a 1.25× best case the overhead is not worth paying.
        let critical = largest.max(n.div_ceil(self.threads));
        if groups.len() < 2 || critical * 5 > n * 4 {
            ExecStats::bump(&self.stats.sequential_phases, 1);
            for i in range {
                let r = apply_transaction(&mut run.main, ctx, &txs[i])?;
                run.record(i, r);
            }
            return Ok(true);
        }
        ExecStats::bump(&self.stats.parallel_phases, 1);
        let units = pack(&groups, self.threads * UNITS_PER_THREAD);
        let results: Vec<UnitResult> = {
            let base = Layered {
                base: state,
                top: run.main.changes(),
            };
            self.pool.install(|| {
                units
                    .par_iter()
                    .map(|unit| run_unit(&base, ctx, txs, declared, unit))
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
                    fees,
                } => {
                    run.main.absorb(changes);
                    run.fees = run.fees.saturating_add(fees);
                    for (i, o) in outcomes {
                        run.outcomes[i] = Some(o);
                    }
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
        self.rerun(run, ctx, txs, declared, range, &strayed, &rerun)
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
        let mut clean_writes: FxHashSet<&[u8]> = FxHashSet::default();
        let mut clean_touched: FxHashSet<&[u8]> = FxHashSet::default();
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
                outcomes.push((i, apply_transaction(&mut overlay, ctx, &txs[i])?));
            }
            let writes = overlay.into_changes();
            (writes, recorder.into_reads(), outcomes)
        };
        let independent = !reads.iter().any(|k| clean_writes.contains(k.as_slice()))
            && !writes.keys().any(|k| clean_touched.contains(k.as_slice()));
        if !independent {
            return Ok(false);
        }
        run.main.absorb(writes);
        for (i, o) in outcomes {
            run.record(i, o);
        }
        Ok(true)
    }
}

/// Runs one work unit's transactions in order on a private overlay, each
/// under a guard. Stops at the first transaction that strays.
fn run_unit(
    base: &Layered<'_>,
    ctx: &BlockContext<'_>,
    txs: &[Transaction],
    declared: &[ResourceSet],
    unit: &[usize],
) -> UnitResult {
    let mut overlay = Overlay::new(base);
    let mut outcomes = Vec::with_capacity(unit.len());
    let mut fees: Amount = 0;
    for &i in unit {
        let decl = &declared[i];
        let guard = Guard::new(&overlay, decl);
        let mut tx_overlay = Overlay::new(&guard);
        let outcome = match apply_transaction(&mut tx_overlay, ctx, &txs[i]) {
            Ok(o) => o,
            Err(e) => return UnitResult::Failed(e),
        };
        let writes = tx_overlay.into_changes();
        if guard.strayed() || writes.keys().any(|k| !decl.declares(k)) {
            return UnitResult::Strayed;
        }
        overlay.absorb(writes);
        if let Ok(r) = &outcome {
            fees = fees.saturating_add(r.fee_paid);
        }
        outcomes.push((i, outcome));
    }
    UnitResult::Clean {
        changes: overlay.into_changes(),
        outcomes,
        fees,
    }
}

/// Turns per-transaction outcomes into the block output, exactly as the
/// sequential executor reports them: block order, and in `Import` mode the
/// first invalid transaction fails the block.
fn assemble(
    outcomes: Vec<Option<Outcome>>,
    changes: Changes,
    mode: ExecMode,
) -> Result<BlockOutput, ExecError> {
    let mut out = BlockOutput {
        changes,
        ..BlockOutput::default()
    };
    for (index, o) in outcomes.into_iter().enumerate() {
        match o {
            Some(Ok(receipt)) => {
                out.included.push(index);
                out.receipts.push(receipt);
            }
            Some(Err(reason)) => match mode {
                ExecMode::Import => return Err(ExecError::InvalidTx { index, reason }),
                ExecMode::Produce => out.rejected.push((index, reason)),
            },
            None => {
                return Err(ExecError::Internal(format!(
                    "transaction {index} was never executed"
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
