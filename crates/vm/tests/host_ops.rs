//! States, box messages, payments, allow-lists and storage, on MemHost.

mod common;

use common::{ALICE, BOB, NOW, host, kind, run_on, yields};
use umbra_vm::{HostError, Op, Verb, Verdict, VmErrorKind, mem_address};

fn hex(b: &[u8]) -> String {
    let d: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("0x{d}")
}

#[test]
fn states() {
    // Bob writes to Alice's box.
    yields("STATE write", "PUSHX 1");
    yields("STATE read", "PUSHX 0");
    yields("STATE inspect", "PUSHX 0");
    yields("STATE own", "PUSHX 0");
    yields("STATE this", "PUSHDATA \"main\"");
    yields("STATE entry", "PUSHDATA \"main\"");
    yields("STATE timestamp", &format!("PUSHX {NOW}"));
    yields(
        "STATE randomness",
        &format!("PUSHDATA {}", hex(&[0x5a; 32])),
    );
    yields("STATE caller", &format!("PUSHDATA {}", hex(&BOB)));
    yields("STATE listed", "PUSHX 0");
    yields("STATE message", "PUSHDATA \"hello\"");

    let mut h = host(ALICE);
    let o = run_on(&mut h, "STATE own\nSTATE read\nAND\nRET", ALICE, Verb::Read).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
    let o = run_on(&mut h, "STATE inspect", ALICE, Verb::Inspect).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
}

#[test]
fn listed_include_exclude() {
    let mut h = host(BOB);
    let join = format!("PUSHDATA {}\nINCLUDE\nSTATE listed", hex(&BOB));
    assert_eq!(
        run_on(&mut h, &join, BOB, Verb::Write).unwrap().verdict,
        Verdict::Pass
    );
    assert!(h.boxes[&b"main".to_vec()].listed.contains(&BOB));
    let leave = format!("PUSHDATA {}\nEXCLUDE\nSTATE listed", hex(&BOB));
    assert_eq!(
        run_on(&mut h, &leave, BOB, Verb::Write).unwrap().verdict,
        Verdict::Fail
    );
    assert!(h.boxes[&b"main".to_vec()].listed.is_empty());
    // An address must be exactly 32 bytes.
    assert_eq!(
        kind("PUSHDATA 0x01\nINCLUDE"),
        VmErrorKind::OutOfRange(Op::Include)
    );
}

#[test]
fn messages() {
    let mut h = host(BOB);
    // PUSH into a box with the same owner works; into someone else's does not.
    let src = "PUSHDATA \"m1\"\nPUSHDATA \"outbox\"\nPUSH\nPUSHDATA \"m2\"\nPUSHDATA \"carol\"\nPUSH\nNOT\nAND";
    assert_eq!(
        run_on(&mut h, src, BOB, Verb::Write).unwrap().verdict,
        Verdict::Pass
    );
    assert_eq!(h.boxes[&b"outbox".to_vec()].messages, vec![b"m1".to_vec()]);
    assert!(h.boxes[&b"carol".to_vec()].messages.is_empty());

    let src = "PUSHDATA \"outbox\"\nPULL\nPUSHDATA \"m1\"\nEQUAL\nPUSHDATA \"outbox\"\nCOUNT\nPUSHX 1\nEQUAL\nAND";
    assert_eq!(
        run_on(&mut h, src, BOB, Verb::Read).unwrap().verdict,
        Verdict::Pass
    );

    let src = "PUSHDATA \"m9\"\nPUSHDATA \"outbox\"\nREPLACE";
    assert_eq!(
        run_on(&mut h, src, BOB, Verb::Write).unwrap().verdict,
        Verdict::Pass
    );
    assert_eq!(h.boxes[&b"outbox".to_vec()].messages, vec![b"m9".to_vec()]);
    let src = "PUSHDATA \"outbox\"\nDELETE";
    assert_eq!(
        run_on(&mut h, src, BOB, Verb::Write).unwrap().verdict,
        Verdict::Pass
    );
    assert!(h.boxes[&b"outbox".to_vec()].messages.is_empty());
    // Empty box: PULL gives empty bytes, DELETE reports failure.
    yields("PUSHDATA \"outbox\"\nPULL", "PUSHDATA \"\"");
    yields("PUSHDATA \"outbox\"\nDELETE", "PUSHX 0");
    assert_eq!(kind("PUSHDATA \"nope\"\nCOUNT"), VmErrorKind::NoSuchBox);
}

#[test]
fn name_and_find() {
    let addr = mem_address(b"outbox");
    yields(
        "PUSHDATA \"outbox\"\nFIND",
        &format!("PUSHDATA {}", hex(&addr)),
    );
    yields(
        &format!("PUSHDATA {}\nNAME", hex(&addr)),
        "PUSHDATA \"outbox\"",
    );
    yields("PUSHDATA \"nope\"\nFIND", "PUSHDATA \"\"");
    yields(
        &format!("PUSHDATA {}\nNAME", hex(&[9; 32])),
        "PUSHDATA \"\"",
    );
    assert_eq!(
        kind("PUSHDATA \"short\"\nNAME"),
        VmErrorKind::OutOfRange(Op::Name)
    );
}

#[test]
fn payments() {
    let mut h = host(BOB);
    // Never paid: BALANCE 0, TIME = timestamp since the epoch.
    let src = format!("BALANCE\nPUSHX 0\nEQUAL\nTIME\nPUSHX {NOW}\nEQUAL\nAND");
    assert_eq!(
        run_on(&mut h, &src, BOB, Verb::Read).unwrap().verdict,
        Verdict::Pass
    );

    let o = run_on(
        &mut h,
        "PUSHX 300\nPAY\nPUSHX 200\nPAY\nOK",
        BOB,
        Verb::Read,
    )
    .unwrap();
    assert_eq!(o.token_cost, 500);
    assert_eq!(
        h.pay_log,
        vec![(b"main".to_vec(), 300), (b"main".to_vec(), 200)]
    );
    assert_eq!(h.paid_by(b"main", &BOB).total, 500);

    h.now_ms = NOW; // payment recorded at NOW; the run below is 2500 ms later
    let mut later = common::env(BOB, Verb::Read);
    later.timestamp_ms = NOW + 2500;
    let script = umbra_vm::Script::decode(
        &umbra_vm::assemble("TIME\nPUSHX 2500\nEQUAL\nBALANCE\nPUSHX 500\nEQUAL\nAND").unwrap(),
    )
    .unwrap();
    let this = common::main_box(&h);
    let o = umbra_vm::run(&script, &later, &this, &mut h, common::LIMIT).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);

    assert_eq!(kind("PUSHX -1\nPAY\nOK"), VmErrorKind::OutOfRange(Op::Pay));
    let over = format!("PUSHX 0x01{}\nPAY", "00".repeat(16));
    assert_eq!(kind(&over), VmErrorKind::OutOfRange(Op::Pay));
}

#[test]
fn a_refused_payment_aborts_the_run() {
    let mut h = host(BOB);
    h.refuse_payments = true;
    let e = run_on(&mut h, "PUSHX 10\nPAY\nOK", BOB, Verb::Read).unwrap_err();
    assert!(
        matches!(e.kind, VmErrorKind::Host(HostError::Refused(_))),
        "{e}"
    );
    assert_eq!(e.offset, 3);
}

#[test]
fn inspect_frames_change_nothing() {
    let mut h = host(BOB);
    let src = format!(
        "PUSHDATA \"m\"\nPUSHDATA \"outbox\"\nPUSH\nPUSHDATA \"outbox\"\nDELETE\nAND\n\
         PUSHDATA \"m\"\nPUSHDATA \"outbox\"\nREPLACE\nAND\nPUSHDATA {}\nINCLUDE\nPUSHX 40\nPAY\n\
         ALLOC\nDROP\nPUSHDATA \"k\"\nPUSHDATA \"v\"\nWRITE\nDROP\nRET",
        hex(&BOB)
    );
    let before = h.boxes.clone();
    let o = run_on(&mut h, &src, BOB, Verb::Inspect).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
    assert_eq!(o.token_cost, 40, "an inspection quotes the price");
    assert!(h.pay_log.is_empty(), "but nobody is charged");
    assert_eq!(h.boxes, before);
}

#[test]
fn storage_is_not_served_yet() {
    let link = format!("LINK 0x{}", "11".repeat(32));
    for src in [
        link.as_str(),
        "ALLOC",
        "ELNK \"storj\" 0x01",
        "PUSHDATA \"k\"\nPUSHDATA \"v\"\nWRITE",
        "PUSHDATA \"k\"\nREAD",
    ] {
        assert_eq!(
            kind(src),
            VmErrorKind::Host(HostError::StorageUnavailable),
            "{src}"
        );
    }
    let e = common::error("ALLOC");
    assert_eq!(
        e.to_string(),
        "at byte 0: host: content storage is not available on this node yet"
    );
}
