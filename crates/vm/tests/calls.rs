//! CALL and INSPECT: older boxes only, depth limit, budgets, fresh stacks,
//! payments and quotes.

mod common;

use common::{ALICE, BOB, LIMIT, env, host, run_on};
use umbra_vm::{MemHost, Script, Verb, Verdict, VmErrorKind, assemble, run};

fn gate(src: &str) -> Vec<u8> {
    assemble(src).unwrap_or_else(|e| panic!("{e}"))
}

fn with_shop() -> MemHost {
    let mut h = host(BOB);
    h.add_box(b"shop", 10, ALICE, gate("PUSHX 7\nPAY\nOK"));
    h.add_box(b"closed", 11, ALICE, gate("PUSHX 7\nPAY\nFAIL"));
    h.add_box(b"newer", 200, ALICE, gate("OK"));
    h.add_box(b"broken", 12, ALICE, vec![0xee]);
    h.add_box(b"adder", 13, ALICE, gate("ADD"));
    h.add_box(b"empty", 14, ALICE, gate("RET"));
    h.add_box(b"who", 15, ALICE, gate("STATE this\nPUSHDATA \"who\"\nEQUAL\nSTATE entry\nPUSHDATA \"main\"\nEQUAL\nAND\nSTATE read\nAND\nRET"));
    h
}

#[test]
fn call_passes_fails_and_charges() {
    let mut h = with_shop();
    let o = run_on(&mut h, "PUSHDATA \"shop\"\nCALL 100\nRET", BOB, Verb::Read).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
    assert_eq!(o.token_cost, 7);
    assert_eq!(h.pay_log, vec![(b"shop".to_vec(), 7)]);
    // Caller's gas: PUSHDATA 1 + CALL 20 + callee (PUSHX 1 + PAY 20 + OK 1) + RET 1.
    assert_eq!(o.gas_used, 1 + 20 + 22 + 1);

    let o = run_on(
        &mut h,
        "PUSHDATA \"closed\"\nCALL 100\nNOT\nRET",
        BOB,
        Verb::Read,
    )
    .unwrap();
    assert_eq!(o.verdict, Verdict::Pass, "CALL pushed 0 for a failing gate");
}

#[test]
fn callee_sees_its_own_box_and_the_entry() {
    let mut h = with_shop();
    let o = run_on(&mut h, "PUSHDATA \"who\"\nCALL 1000\nRET", BOB, Verb::Write).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
}

#[test]
fn callee_gets_a_fresh_stack() {
    let mut h = with_shop();
    let o = run_on(
        &mut h,
        "PUSHX 1\nPUSHDATA \"empty\"\nCALL 10\nRET",
        BOB,
        Verb::Read,
    )
    .unwrap();
    assert_eq!(
        o.verdict,
        Verdict::Fail,
        "the callee's RET saw an empty stack"
    );
    let e = run_on(
        &mut h,
        "PUSHX 1\nPUSHX 2\nPUSHDATA \"adder\"\nCALL 10",
        BOB,
        Verb::Read,
    )
    .unwrap_err();
    assert_eq!((e.offset, e.depth), (0, 1));
    assert_eq!(
        e.to_string(),
        "at byte 0 (call depth 1): stack underflow in ADD"
    );
}

#[test]
fn inspect_quotes_without_paying() {
    let mut h = with_shop();
    let src = "PUSHDATA \"shop\"\nINSPECT 100\nPUSHX 7\nEQUAL\nPUSHDATA \"closed\"\nINSPECT 100\nPUSHX -1\nEQUAL\nAND";
    let o = run_on(&mut h, src, BOB, Verb::Write).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
    assert_eq!(o.token_cost, 0);
    assert!(h.pay_log.is_empty());
}

#[test]
fn a_call_inside_an_inspection_does_not_pay() {
    let mut h = with_shop();
    let o = run_on(
        &mut h,
        "PUSHDATA \"shop\"\nCALL 100\nRET",
        BOB,
        Verb::Inspect,
    )
    .unwrap();
    assert_eq!((o.verdict, o.token_cost), (Verdict::Pass, 7));
    assert!(h.pay_log.is_empty());
}

#[test]
fn only_older_boxes() {
    let mut h = with_shop();
    let e = run_on(&mut h, "PUSHDATA \"newer\"\nCALL 100", BOB, Verb::Read).unwrap_err();
    assert_eq!(
        e.kind,
        VmErrorKind::CallNotOlder {
            callee: 200,
            this: 100
        }
    );
    let e = run_on(&mut h, "PUSHDATA \"main\"\nCALL 100", BOB, Verb::Read).unwrap_err();
    assert_eq!(
        e.kind,
        VmErrorKind::CallNotOlder {
            callee: 100,
            this: 100
        }
    );
    let e = run_on(&mut h, "PUSHDATA \"main\"\nINSPECT 100", BOB, Verb::Read).unwrap_err();
    assert_eq!(
        e.kind,
        VmErrorKind::CallNotOlder {
            callee: 100,
            this: 100
        }
    );
    let e = run_on(&mut h, "PUSHDATA \"ghost\"\nCALL 100", BOB, Verb::Read).unwrap_err();
    assert_eq!(e.kind, VmErrorKind::NoSuchBox);
}

#[test]
fn callee_must_fit_its_budget_and_decode() {
    let mut h = with_shop();
    let e = run_on(&mut h, "PUSHDATA \"shop\"\nCALL 21", BOB, Verb::Read).unwrap_err();
    assert_eq!(
        e.kind,
        VmErrorKind::CalleeBound {
            bound: 22,
            budget: 21
        }
    );
    assert!(run_on(&mut h, "PUSHDATA \"shop\"\nCALL 22\nRET", BOB, Verb::Read).is_ok());
    let e = run_on(&mut h, "PUSHDATA \"broken\"\nCALL 100", BOB, Verb::Read).unwrap_err();
    assert!(matches!(e.kind, VmErrorKind::BadScript(_)), "{e}");
}

/// Boxes d1..=d10, each calling the one before it with exactly the budget
/// it needs.
fn chain() -> MemHost {
    let mut h = MemHost::new(BOB, common::NOW);
    let mut code = gate("OK");
    h.add_box(b"d1", 1, ALICE, code.clone());
    for k in 2..=10u64 {
        let bound = Script::decode(&code).unwrap().gas_bound();
        code = gate(&format!("PUSHDATA \"d{}\"\nCALL {bound}\nRET", k - 1));
        h.add_box(format!("d{k}").as_bytes(), k, ALICE, code.clone());
    }
    h
}

fn run_box(h: &mut MemHost, name: &str) -> Result<umbra_vm::Outcome, umbra_vm::VmError> {
    let (this, code) = {
        let b = &h.boxes[name.as_bytes()];
        (h.info(name.as_bytes()).unwrap(), b.read_gate.clone())
    };
    let script = Script::decode(&code).unwrap();
    run(&script, &env(BOB, Verb::Read), &this, h, LIMIT)
}

#[test]
fn depth_eight_runs_depth_nine_is_refused() {
    let mut h = chain();
    // d9 → d8 → … → d1 is 8 nested frames.
    assert_eq!(run_box(&mut h, "d9").unwrap().verdict, Verdict::Pass);
    // d10 would need a 9th.
    let e = run_box(&mut h, "d10").unwrap_err();
    assert_eq!(e.kind, VmErrorKind::CallDepth);
    assert_eq!(e.depth, 8);
}
