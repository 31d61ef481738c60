//! What the machine gives to threads right now, measured beside a benchmark
//! so its figures can be read against it.
//!
//! Three probes, each run on one thread and then on `threads` threads at
//! once (best of three interleaved runs each way), reported as how many
//! threads' worth of work got done:
//!
//! - `hashing`: a SHA-256 chain (SHA-NI when present);
//! - `alu`: register-only arithmetic with independent chains, which keeps a
//!   core's execution units busy and touches no memory at all;
//! - `chase`: a pointer chase in a 4 KiB table, which waits on L1 latency
//!   and leaves a core's execution units mostly idle.
//!
//! On separate physical cores all three give `threads`. When the host runs
//! the vCPUs as hyperthreads of one core (at least some of the time), `chase`
//! still scales and `alu` does not: nothing but shared execution units slows
//! down code that touches no memory. Steal time would slow both.

use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};
use umbra_types::{Hash, sha256};

#[derive(Clone, Copy, Debug, Serialize)]
pub struct MachineScaling {
    pub hashing: f64,
    pub alu: f64,
    pub chase: f64,
}

/// All three probes, well under a second each in any build.
pub fn measure(threads: usize) -> MachineScaling {
    MachineScaling {
        hashing: scaling(threads, hashing),
        alu: scaling(threads, alu),
        chase: scaling(threads, chase),
    }
}

fn hashing(rounds: u64) {
    let mut h = Hash::ZERO;
    for _ in 0..black_box(rounds) {
        h = sha256(&h.0);
    }
    black_box(h);
}

fn alu(rounds: u64) {
    let n = black_box(rounds * 200);
    let (mut a, mut b, mut c, mut d, mut e, mut f) =
        black_box((1u64, 2u64, 3u64, 4u64, 5u64, 6u64));
    for i in 0..n {
        a = a.wrapping_add(i) ^ b;
        b = b.wrapping_add(a).rotate_left(3);
        c = c.wrapping_add(i) ^ d;
        d = d.wrapping_add(c).rotate_left(5);
        e = e.wrapping_add(i) ^ f;
        f = f.wrapping_add(e).rotate_left(7);
    }
    black_box(a ^ b ^ c ^ d ^ e ^ f);
}

fn chase(rounds: u64) {
    const SLOTS: usize = 512;
    // 389 is coprime to 512, so the chase visits every slot.
    let table: Vec<usize> = black_box((0..SLOTS).map(|i| (i * 389 + 1) % SLOTS).collect());
    let mut at = 0;
    for _ in 0..black_box(rounds * 100) {
        at = table[at];
    }
    black_box(at);
}

/// Long enough to see past timer and thread-start noise.
const TARGET: Duration = Duration::from_millis(40);

fn scaling(threads: usize, work: fn(u64)) -> f64 {
    // Size the work to the build and the machine: doubling until one run
    // takes `TARGET`, so a debug build does not take minutes.
    let mut rounds = 1_000u64;
    loop {
        let t = Instant::now();
        work(rounds);
        if t.elapsed() >= TARGET || rounds >= 1 << 40 {
            break;
        }
        rounds *= 2;
    }
    let (mut one, mut many) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        work(rounds);
        one = one.min(t.elapsed());
        let t = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(move || work(rounds));
            }
        });
        many = many.min(t.elapsed());
    }
    threads as f64 * one.as_secs_f64() / many.as_secs_f64().max(1e-9)
}
