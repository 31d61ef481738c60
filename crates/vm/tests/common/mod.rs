//! Shared fixtures: a MemHost chain with a few boxes and helpers that run
//! `.gate` source on it.
#![allow(dead_code)]

use umbra_vm::{
    BoxInfo, Env, MemHost, Outcome, Script, Verb, Verdict, VmError, VmErrorKind, assemble, run,
};

/// Owns every box below.
pub const ALICE: [u8; 32] = [0xa1; 32];
/// A reader who owns nothing.
pub const BOB: [u8; 32] = [0xb0; 32];
/// Block time of every run.
pub const NOW: u64 = 1_700_000_000_000;
/// Generous limit for runs that are not about gas.
pub const LIMIT: u64 = 10_000_000;

pub fn env(caller: [u8; 32], verb: Verb) -> Env {
    Env {
        caller,
        verb,
        timestamp_ms: NOW,
        randomness: [0x5a; 32],
        message: b"hello".to_vec(),
    }
}

/// A chain where `caller` acts: "main" (id 100, Alice's), "outbox" (id 50,
/// Alice's), "old" (id 1, Alice's, read gate OK), "carol" (id 60, someone
/// else's).
pub fn host(caller: [u8; 32]) -> MemHost {
    let mut h = MemHost::new(caller, NOW);
    h.add_box(b"main", 100, ALICE, assemble("OK").unwrap_or_default());
    h.add_box(b"outbox", 50, ALICE, Vec::new());
    h.add_box(b"old", 1, ALICE, assemble("OK").unwrap_or_default());
    h.add_box(b"carol", 60, [0xc0; 32], Vec::new());
    h
}

pub fn main_box(h: &MemHost) -> BoxInfo {
    h.info(b"main").expect("fixture has main")
}

/// Runs `src` as main's gate with `verb` for `caller` on `h`.
pub fn run_on(
    h: &mut MemHost,
    src: &str,
    caller: [u8; 32],
    verb: Verb,
) -> Result<Outcome, VmError> {
    let bytes = assemble(src).unwrap_or_else(|e| panic!("fixture does not assemble: {e}\n{src}"));
    let script = Script::decode(&bytes).expect("assembled scripts decode");
    let this = main_box(h);
    run(&script, &env(caller, verb), &this, h, LIMIT)
}

/// Runs `src` as Bob writing to main on a fresh chain.
pub fn exec(src: &str) -> Result<Outcome, VmError> {
    let mut h = host(BOB);
    run_on(&mut h, src, BOB, Verb::Write)
}

pub fn verdict(src: &str) -> Verdict {
    match exec(src) {
        Ok(o) => o.verdict,
        Err(e) => panic!("unexpected error {e} in\n{src}"),
    }
}

/// Asserts that `src` leaves a top item equal (canonical bytes) to what
/// `expected` (one instruction, e.g. `PUSHX 5`) pushes, and that it is not
/// equal to something else, so the check itself can fail.
pub fn yields(src: &str, expected: &str) {
    assert_eq!(
        verdict(&format!("{src}\n{expected}\nEQUAL\nRET")),
        Verdict::Pass,
        "`{src}` should yield `{expected}`"
    );
    assert_eq!(
        verdict(&format!("{src}\nPUSHDATA \"~unlikely~\"\nEQUAL\nRET")),
        Verdict::Fail
    );
}

pub fn error(src: &str) -> VmError {
    match exec(src) {
        Ok(o) => panic!("expected an error, got {o:?} from\n{src}"),
        Err(e) => e,
    }
}

pub fn kind(src: &str) -> VmErrorKind {
    error(src).kind
}
