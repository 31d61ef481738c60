//! Deterministic simulations of AEDPoS miners under faults: the same seed
//! gives the same run; across many seeds no two nodes ever consider
//! different blocks irreversible at one height (safety), and the
//! irreversible height advances whenever ⌊2N/3⌋+1 miners can talk
//! (liveness).

mod sim;

use sim::{Conditions, Rng, Sim};
use umbra_consensus::aedpos::AedposConfig;
use umbra_consensus::aedpos::irreversible::quorum;

const PHASE_MS: u64 = 30_000;

fn config() -> AedposConfig {
    AedposConfig {
        interval_ms: 500,
        max_blocks_per_slot: 4,
        min_block_gap_ms: 100,
        ..AedposConfig::default()
    }
}

/// The largest group of live nodes that can all talk to each other.
fn largest_live_group(sim: &Sim) -> Vec<usize> {
    let mut best: Vec<usize> = Vec::new();
    for g in 0..=u8::MAX {
        let members: Vec<usize> = (0..sim.nodes.len())
            .filter(|&i| sim.nodes[i].alive && sim.conditions.group[i] == g)
            .collect();
        if members.len() > best.len() {
            best = members;
        }
    }
    best
}

struct Outcome {
    digest: umbra_types::Hash,
    violations: Vec<String>,
    stalls: Vec<String>,
    min_irreversible: u64,
}

/// One seeded run: a healthy start, eight phases of random faults (loss,
/// delay, crashes, partitions), then everything healed.
fn scenario(seed: u64, n: usize) -> Outcome {
    let mut sim = Sim::new(n, config(), seed);
    let mut rng = Rng::new(seed ^ 0x5EED);
    let q = quorum(n);
    let mut stalls = Vec::new();
    let all: Vec<usize> = (0..n).collect();
    sim.run_until(PHASE_MS);
    for phase in 0..8 {
        for i in 0..n {
            if !sim.nodes[i].alive && rng.chance(600) {
                sim.restart(i);
            }
        }
        let mut c = Conditions {
            group: vec![0; n],
            loss_permille: 0,
            delay_ms: (5, 5 + rng.below(200)),
        };
        match rng.below(5) {
            0 => {}
            1 => c.loss_permille = 50 + rng.below(100),
            2 => {
                let crashes = 1 + rng.below(n as u64 - 1);
                for _ in 0..crashes {
                    let victim = rng.below(n as u64) as usize;
                    sim.crash(victim);
                }
            }
            3 => {
                for g in c.group.iter_mut() {
                    *g = rng.below(2) as u8;
                }
            }
            _ => {
                for g in c.group.iter_mut() {
                    *g = rng.below(3) as u8;
                }
                c.loss_permille = rng.below(100);
            }
        }
        sim.conditions = c;
        let group = largest_live_group(&sim);
        let before = sim.min_irreversible(&group);
        let top_before = all.iter().map(|&i| sim.nodes[i].irreversible.0).max();
        sim.run_until(sim.now + PHASE_MS);
        let after = sim.min_irreversible(&group);
        if group.len() >= q && after <= before {
            stalls.push(format!(
                "seed {seed} phase {phase}: {} connected live miners ({:?}, {:?}) stayed at irreversible height {before} (highest anywhere before: {top_before:?})",
                group.len(),
                group,
                sim.conditions
            ));
        }
    }
    for i in 0..n {
        sim.restart(i);
    }
    sim.conditions = Conditions {
        group: vec![0; n],
        loss_permille: 0,
        delay_ms: (5, 50),
    };
    let before = sim.min_irreversible(&all);
    sim.run_until(sim.now + PHASE_MS);
    let after = sim.min_irreversible(&all);
    if after <= before {
        stalls.push(format!(
            "seed {seed}: after healing, irreversible height stayed at {before}"
        ));
    }
    Outcome {
        digest: sim.digest(),
        violations: sim.violations.clone(),
        stalls,
        min_irreversible: after,
    }
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let a = scenario(7, 5);
    let b = scenario(7, 5);
    assert_eq!(a.digest, b.digest);
    // And the digest sees the run: other seeds differ.
    let others: Vec<_> = (8..11).map(|s| scenario(s, 5).digest).collect();
    assert!(others.iter().any(|d| *d != a.digest));
}

#[test]
fn safety_and_liveness_across_seeds() {
    let mut failures = Vec::new();
    for seed in 0..24u64 {
        let n = [4usize, 5, 7][seed as usize % 3];
        let o = scenario(seed, n);
        failures.extend(o.violations);
        failures.extend(o.stalls);
        assert!(
            o.min_irreversible > 0,
            "seed {seed}: nothing ever became irreversible"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_minority_partition_cannot_finalise_and_healing_joins_one_chain() {
    let n = 5;
    let mut sim = Sim::new(n, config(), 99);
    sim.run_until(PHASE_MS);
    let start: Vec<u64> = (0..n).map(|i| sim.nodes[i].irreversible.0).collect();
    assert!(
        start.iter().all(|&h| h > 0),
        "healthy network finalises: {start:?}"
    );
    // 2 | 3: neither side has ⌊2·5/3⌋+1 = 4 miners.
    sim.conditions.group = vec![0, 0, 1, 1, 1];
    // Blocks from before the split may still become irreversible: each
    // miner's newest height counts until it is two rounds old. After two
    // rounds (at most N+1 slots each) only blocks from after the split are
    // left.
    sim.run_until(sim.now + 2 * (n as u64 + 1) * 500 + 1_000);
    let frozen: Vec<u64> = (0..n).map(|i| sim.nodes[i].irreversible.0).collect();
    sim.run_until(sim.now + 2 * PHASE_MS);
    let during: Vec<u64> = (0..n).map(|i| sim.nodes[i].irreversible.0).collect();
    assert_eq!(frozen, during, "no side of a 2|3 split may finalise");
    assert!(
        (0..n).all(|i| sim.nodes[i].head_height() > start[i]),
        "both sides keep producing blocks"
    );
    assert_ne!(sim.nodes[0].head, sim.nodes[4].head, "the sides fork");
    sim.conditions.group = vec![0; n];
    sim.run_until(sim.now + PHASE_MS);
    let healed: Vec<u64> = (0..n).map(|i| sim.nodes[i].irreversible.0).collect();
    assert!(
        healed.iter().zip(&during).all(|(a, b)| a > b),
        "after healing every node finalises again: {during:?} -> {healed:?}"
    );
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}

#[test]
fn one_crashed_miner_of_five_does_not_stop_finality() {
    let mut sim = Sim::new(5, config(), 3);
    sim.run_until(PHASE_MS);
    sim.crash(2);
    let live = [0usize, 1, 3, 4];
    let before = sim.min_irreversible(&live);
    sim.run_until(sim.now + PHASE_MS);
    assert!(sim.min_irreversible(&live) > before);
    let crashed_at = sim.nodes[2].irreversible.0;
    sim.restart(2);
    sim.run_until(sim.now + PHASE_MS);
    assert!(
        sim.nodes[2].irreversible.0 > crashed_at,
        "the restarted miner catches up"
    );
    assert!(
        sim.nodes[2].head_height() + 10 >= sim.nodes[0].head_height(),
        "and follows the chain"
    );
    assert!(sim.violations.is_empty(), "{:?}", sim.violations);
}
