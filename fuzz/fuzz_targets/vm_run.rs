//! Any bytes as a gate (and an older callee gate) run on MemHost: no panic,
//! gas never above the static bound, metering never exhausted, inspections
//! never pay.
//!
//! Input layout: `[flags] [callee_len] [callee bytes…] [main bytes…]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umbra_vm::{Env, MemHost, Script, Verb, VmErrorKind, run};

const OWNER: [u8; 32] = [0xa1; 32];
const OTHER: [u8; 32] = [0xb0; 32];

fuzz_target!(|data: &[u8]| {
    let [flags, callee_len, rest @ ..] = data else {
        return;
    };
    let split = usize::from(*callee_len).min(rest.len());
    let (callee, main) = rest.split_at(split);
    let Ok(script) = Script::decode(main) else {
        return;
    };
    let caller = if flags & 1 == 0 { OWNER } else { OTHER };
    let verb = match (flags >> 1) % 3 {
        0 => Verb::Write,
        1 => Verb::Read,
        _ => Verb::Inspect,
    };
    let mut host = MemHost::new(caller, 1_700_000_000_000);
    host.add_box(b"b0", 1, OWNER, callee.to_vec());
    host.add_box(b"outbox", 2, OWNER, Vec::new());
    let this = host.add_box(b"main", 100, OWNER, Vec::new());
    let env = Env {
        caller,
        verb,
        timestamp_ms: 1_700_000_000_000,
        randomness: [7; 32],
        message: b"msg".to_vec(),
    };
    let bound = script.gas_bound();
    match run(&script, &env, &this, &mut host, bound) {
        Ok(o) => assert!(
            o.gas_used <= bound,
            "gas {} above bound {bound}",
            o.gas_used
        ),
        Err(e) => assert!(
            !matches!(
                e.kind,
                VmErrorKind::GasExhausted | VmErrorKind::BoundExceedsLimit { .. }
            ),
            "{e}"
        ),
    }
    if verb == Verb::Inspect {
        assert!(host.pay_log.is_empty(), "an inspection paid");
    }
});
