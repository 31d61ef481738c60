//! `umbra bench gates`: gate evaluations per second for typical gates, and
//! raw gate VM operations per second.
//!
//! Gates run through the runtime's real path (`boxes::gate::run_gate`: script
//! decode, VM, host reads and writes through an overlay) over an in-memory
//! state, so the figure is the gate's own cost, not the disk's. Each
//! evaluation gets a fresh overlay, as each transaction does.

use anyhow::Context;
use serde::Serialize;
use std::time::{Duration, Instant};
use umbra_runtime::boxes::{BoxRecord, Gate, GateEnv, Payment, keys, run_gate};
use umbra_runtime::{Account, ChainParams, Overlay};
use umbra_storage::MemState;
use umbra_types::{Address, GateKind, encode};
use umbra_vm::{BoxInfo, Env, NullHost, Op, Script, Verb};

#[derive(Serialize)]
struct Case {
    case: String,
    /// Gate evaluations (or, for `vm_ops`, VM instructions) per second.
    per_sec: f64,
    unit: &'static str,
    gas_bound: u64,
    runs: u64,
}

const OWNER: Address = Address([1; 32]);
const READER: Address = Address([2; 32]);
const NOW_MS: u64 = 10_000_000;

fn state_with(name: &str, code: &[u8], bound: u64) -> MemState {
    let mut s = MemState::default();
    let put = |s: &mut MemState, k: Vec<u8>, v: Vec<u8>| {
        s.0.insert(k, v);
    };
    let rec = BoxRecord {
        id: 0,
        owner: OWNER,
        created_height: 1,
        next_index: 1,
        live: 1,
    };
    put(&mut s, keys::record(name), encode(&rec));
    put(
        &mut s,
        keys::gate(name, GateKind::Read),
        encode(&Gate {
            code: code.to_vec(),
            gas_bound: bound,
        }),
    );
    put(&mut s, keys::listed(name, &READER), vec![1]);
    put(
        &mut s,
        keys::payment(name, &READER),
        encode(&Payment {
            total: 5_000,
            last_ms: NOW_MS - 1_000,
        }),
    );
    put(
        &mut s,
        umbra_runtime::keys::account(&READER),
        encode(&Account {
            balance: u128::MAX / 2,
            nonce: 0,
        }),
    );
    s
}

fn gate_case(label: &str, code: anyhow::Result<Vec<u8>>, min: Duration) -> anyhow::Result<Case> {
    let code = code?;
    let bound = Script::decode(&code)?.gas_bound();
    let name = "bench_box";
    let state = state_with(name, &code, bound);
    let params = ChainParams::default();
    let env = GateEnv {
        height: 2,
        timestamp_ms: NOW_MS,
        randomness: [7; 32],
        params: &params,
    };
    let rec: BoxRecord = umbra_runtime::boxes::query::record(&state, name)?.context("bench box")?;
    let mut runs = 0u64;
    let start = Instant::now();
    while start.elapsed() < min || runs == 0 {
        for _ in 0..1_000 {
            let mut overlay = Overlay::new(&state);
            let r = run_gate(
                &mut overlay,
                &env,
                &READER,
                name,
                &rec,
                GateKind::Read,
                Verb::Read,
                vec![],
            )?;
            if let Err(f) = r {
                anyhow::bail!("gate `{label}` refused the bench reader: {}", f.reason);
            }
        }
        runs += 1_000;
    }
    Ok(Case {
        case: label.to_string(),
        per_sec: runs as f64 / start.elapsed().as_secs_f64(),
        unit: "gate evaluations/s",
        gas_bound: bound,
        runs,
    })
}

/// A straight-line arithmetic script of about `ops` instructions.
fn arithmetic_script(ops: usize) -> anyhow::Result<(Vec<u8>, u64)> {
    let mut b = umbra_sdk::ScriptBuilder::new().push_int(1);
    for i in 0..ops / 4 {
        b = b
            .push_int(3)
            .op(Op::Mul)
            .push_int(i as i128 % 7 + 1)
            .op(Op::Mod);
    }
    let code = b.op(Op::Ok).build()?;
    let n = Script::decode(&code)?.instructions().count() as u64;
    Ok((code, n))
}

fn vm_case(min: Duration) -> anyhow::Result<Case> {
    let (code, instrs) = arithmetic_script(4_000)?;
    let script = Script::decode(&code)?;
    let env = Env {
        caller: READER.0,
        verb: Verb::Read,
        timestamp_ms: NOW_MS,
        randomness: [0; 32],
        message: vec![],
    };
    let this = BoxInfo {
        name: b"bench_box".to_vec(),
        address: [0; 32],
        id: 0,
        caller_is_owner: false,
    };
    let mut runs = 0u64;
    let start = Instant::now();
    while start.elapsed() < min || runs == 0 {
        umbra_vm::run(&script, &env, &this, &mut NullHost, u64::MAX)?;
        runs += 1;
    }
    Ok(Case {
        case: "vm_ops (PUSHX/MUL/MOD, 256-bit)".into(),
        per_sec: (runs * instrs) as f64 / start.elapsed().as_secs_f64(),
        unit: "VM instructions/s",
        gas_bound: script.gas_bound(),
        runs,
    })
}

pub fn gates(secs: f64, json: bool) -> anyhow::Result<()> {
    use umbra_sdk::gates as g;
    let min = Duration::from_secs_f64(secs.max(0.05));
    let e = |r: Result<Vec<u8>, umbra_sdk::BuildError>| r.map_err(anyhow::Error::from);
    let cases = vec![
        gate_case("anyone (OK)", e(g::anyone()), min)?,
        gate_case("allow-list (owner or listed)", e(g::owner_or_listed()), min)?,
        gate_case("pay-once, already paid", e(g::pay_once(1_000)), min)?,
        gate_case("pay-once, paying now", e(g::pay_once(1_000_000)), min)?,
        gate_case(
            "subscription, active",
            e(g::subscription(1_000, 60_000)),
            min,
        )?,
        gate_case(
            "pay-per-access (pays every time)",
            e(g::pay_per_access(1_000)),
            min,
        )?,
        vm_case(min)?,
    ];
    crate::output::emit(json, &cases, || {
        let mut s = format!("{:<36} {:>14}  {:>9}\n", "case", "per second", "gas bound");
        for c in &cases {
            s.push_str(&format!(
                "{:<36} {:>14.0}  {:>9}   ({})\n",
                c.case, c.per_sec, c.gas_bound, c.unit
            ));
        }
        s.trim_end().to_string()
    })
}
