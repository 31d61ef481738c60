//! Counters of what the parallel scheduler did, for logs and `node_status`.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct ExecStats {
    pub(super) blocks: AtomicU64,
    pub(super) parallel_phases: AtomicU64,
    pub(super) sequential_phases: AtomicU64,
    pub(super) strayed_units: AtomicU64,
    pub(super) rerun_txs: AtomicU64,
    pub(super) full_fallbacks: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExecStatsSnapshot {
    /// Blocks executed.
    pub blocks: u64,
    /// Runs of parallelisable transactions executed on several threads.
    pub parallel_phases: u64,
    /// Runs executed on one thread because one conflict group dominated,
    /// the run was short, or only one thread is configured.
    pub sequential_phases: u64,
    /// Work units discarded because a transaction touched a key it had not
    /// declared (the safety net).
    pub strayed_units: u64,
    /// Transactions re-executed sequentially after the parallel phase.
    pub rerun_txs: u64,
    /// Blocks re-executed from scratch sequentially because a re-run could
    /// not be shown independent of the other groups.
    pub full_fallbacks: u64,
}

impl ExecStats {
    pub(super) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ExecStatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExecStatsSnapshot {
            blocks: g(&self.blocks),
            parallel_phases: g(&self.parallel_phases),
            sequential_phases: g(&self.sequential_phases),
            strayed_units: g(&self.strayed_units),
            rerun_txs: g(&self.rerun_txs),
            full_fallbacks: g(&self.full_fallbacks),
        }
    }
}
