//! Every ready-made gate run against MemHost, and the `.gate` templates
//! checked against the builder.

use umbra_sdk::{gates, templates};
use umbra_vm::{Env, MemHost, Outcome, Script, Verb, Verdict, VmError, assemble, run};

const ALICE: [u8; 32] = [0xa1; 32];
const BOB: [u8; 32] = [0xb0; 32];
const T0: u64 = 1_700_000_000_000;
const LIMIT: u64 = 100_000;

/// Alice's boxes "inbox" (id 10) and "replies" (id 5); Carol's "elsewhere".
fn chain(caller: [u8; 32]) -> MemHost {
    let mut h = MemHost::new(caller, T0);
    h.add_box(b"inbox", 10, ALICE, Vec::new());
    h.add_box(b"replies", 5, ALICE, Vec::new());
    h.add_box(b"elsewhere", 6, [0xc0; 32], Vec::new());
    h
}

fn gate_run(
    h: &mut MemHost,
    code: &[u8],
    caller: [u8; 32],
    verb: Verb,
    now: u64,
) -> Result<Outcome, VmError> {
    h.caller = caller;
    h.now_ms = now;
    let script = Script::decode(code).expect("gates are valid scripts");
    let this = h.info(b"inbox").expect("fixture box");
    let env = Env {
        caller,
        verb,
        timestamp_ms: now,
        randomness: [0; 32],
        message: b"hi".to_vec(),
    };
    run(&script, &env, &this, h, LIMIT)
}

fn verdict(h: &mut MemHost, code: &[u8], caller: [u8; 32]) -> Verdict {
    gate_run(h, code, caller, Verb::Read, T0)
        .expect("gate runs")
        .verdict
}

#[test]
fn anyone_and_nobody() {
    let mut h = chain(BOB);
    assert_eq!(
        verdict(&mut h, &gates::anyone().unwrap(), BOB),
        Verdict::Pass
    );
    assert_eq!(
        verdict(&mut h, &gates::nobody().unwrap(), ALICE),
        Verdict::Fail
    );
}

#[test]
fn owner_only() {
    let mut h = chain(BOB);
    let g = gates::owner_only().unwrap();
    assert_eq!(verdict(&mut h, &g, ALICE), Verdict::Pass);
    assert_eq!(verdict(&mut h, &g, BOB), Verdict::Fail);
}

#[test]
fn owner_or_listed_and_listed_only() {
    let mut h = chain(BOB);
    let newsletter = gates::owner_or_listed().unwrap();
    let listed = gates::listed_only().unwrap();
    assert_eq!(verdict(&mut h, &newsletter, ALICE), Verdict::Pass);
    assert_eq!(verdict(&mut h, &newsletter, BOB), Verdict::Fail);
    assert_eq!(
        verdict(&mut h, &listed, ALICE),
        Verdict::Fail,
        "the owner is not listed"
    );
    h.boxes
        .get_mut(b"inbox".as_slice())
        .unwrap()
        .listed
        .insert(BOB);
    assert_eq!(verdict(&mut h, &newsletter, BOB), Verdict::Pass);
    assert_eq!(verdict(&mut h, &listed, BOB), Verdict::Pass);
}

#[test]
fn pay_per_access_charges_every_time_but_not_the_owner() {
    let mut h = chain(BOB);
    let g = gates::pay_per_access(250).unwrap();
    let o = gate_run(&mut h, &g, ALICE, Verb::Read, T0).unwrap();
    assert_eq!((o.verdict, o.token_cost), (Verdict::Pass, 0));
    assert!(h.pay_log.is_empty());
    for _ in 0..2 {
        let o = gate_run(&mut h, &g, BOB, Verb::Read, T0).unwrap();
        assert_eq!((o.verdict, o.token_cost), (Verdict::Pass, 250));
    }
    assert_eq!(h.paid_by(b"inbox", &BOB).total, 500);
    // An inspection quotes the price and charges nothing.
    let o = gate_run(&mut h, &g, BOB, Verb::Inspect, T0).unwrap();
    assert_eq!(o.token_cost, 250);
    assert_eq!(h.pay_log.len(), 2);
}

#[test]
fn a_refused_payment_is_an_error_not_a_pass() {
    let mut h = chain(BOB);
    h.refuse_payments = true;
    assert!(
        gate_run(
            &mut h,
            &gates::pay_per_access(1).unwrap(),
            BOB,
            Verb::Read,
            T0
        )
        .is_err()
    );
}

#[test]
fn pay_once_charges_once() {
    let mut h = chain(BOB);
    let g = gates::pay_once(1000).unwrap();
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Read, T0)
            .unwrap()
            .token_cost,
        1000
    );
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Read, T0 + 1)
            .unwrap()
            .token_cost,
        0
    );
    assert_eq!(h.pay_log, vec![(b"inbox".to_vec(), 1000)]);
    assert_eq!(
        gate_run(&mut h, &g, ALICE, Verb::Read, T0)
            .unwrap()
            .token_cost,
        0
    );
}

#[test]
fn subscription_charges_per_period() {
    let mut h = chain(BOB);
    let period = 30 * 24 * 3600 * 1000;
    let g = gates::subscription(500, period).unwrap();
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Read, T0)
            .unwrap()
            .token_cost,
        500
    );
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Read, T0 + period - 1)
            .unwrap()
            .token_cost,
        0
    );
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Read, T0 + period)
            .unwrap()
            .token_cost,
        500
    );
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Read, T0 + period + 5)
            .unwrap()
            .token_cost,
        0
    );
    assert_eq!(h.pay_log.len(), 2);
    assert_eq!(
        gate_run(&mut h, &g, ALICE, Verb::Read, T0)
            .unwrap()
            .token_cost,
        0
    );
}

#[test]
fn autoresponder_replies_into_the_owners_outbox() {
    let mut h = chain(BOB);
    let g = gates::autoresponder("replies", b"thanks").unwrap();
    let o = gate_run(&mut h, &g, BOB, Verb::Write, T0).unwrap();
    assert_eq!(o.verdict, Verdict::Pass);
    let mut expected = BOB.to_vec();
    expected.extend_from_slice(b"thanks");
    assert_eq!(h.boxes[&b"replies".to_vec()].messages, vec![expected]);

    // Into someone else's box the push is refused, the write still passes.
    let g = gates::autoresponder("elsewhere", b"thanks").unwrap();
    assert_eq!(
        gate_run(&mut h, &g, BOB, Verb::Write, T0).unwrap().verdict,
        Verdict::Pass
    );
    assert!(h.boxes[&b"elsewhere".to_vec()].messages.is_empty());

    assert!(gates::autoresponder("replies", &vec![0; 70_000]).is_err());
}

#[test]
fn pay_and_join_then_read() {
    let mut h = chain(BOB);
    let read = gates::listed_only().unwrap();
    assert_eq!(verdict(&mut h, &read, BOB), Verdict::Fail);
    let o = gate_run(
        &mut h,
        &gates::pay_and_join(42).unwrap(),
        BOB,
        Verb::Write,
        T0,
    )
    .unwrap();
    assert_eq!((o.verdict, o.token_cost), (Verdict::Pass, 42));
    assert_eq!(verdict(&mut h, &read, BOB), Verdict::Pass);
    // Inspecting the join gate neither pays nor joins.
    let mut h = chain(BOB);
    let o = gate_run(
        &mut h,
        &gates::pay_and_join(42).unwrap(),
        BOB,
        Verb::Inspect,
        T0,
    )
    .unwrap();
    assert_eq!(o.token_cost, 42);
    assert!(h.boxes[&b"inbox".to_vec()].listed.is_empty());
}

#[test]
fn templates_equal_the_builder() {
    let cases: [(&str, &str, Vec<u8>, u64); 5] = [
        (
            "owner_only",
            templates::OWNER_ONLY,
            gates::owner_only().unwrap(),
            2,
        ),
        (
            "newsletter",
            templates::NEWSLETTER,
            gates::owner_or_listed().unwrap(),
            4,
        ),
        // own, skip, balance 20, pushx, get, skip, pushx, pay 20, ok
        (
            "pay_once",
            templates::PAY_ONCE,
            gates::pay_once(1000).unwrap(),
            1 + 1 + 20 + 1 + 1 + 1 + 1 + 20 + 1,
        ),
        (
            "subscription",
            templates::SUBSCRIPTION,
            gates::subscription(500, 2_592_000_000).unwrap(),
            1 + 1 + 20 + 1 + 1 + 1 + 1 + 20 + 1,
        ),
        (
            "autoresponder",
            templates::AUTORESPONDER,
            gates::autoresponder("replies", b"thanks, I will answer soon").unwrap(),
            1 + 1 + 3 + 1 + 20 + 1 + 1,
        ),
    ];
    for (name, text, built, bound) in cases {
        let assembled = assemble(text).unwrap_or_else(|e| panic!("{name}.gate: {e}"));
        assert_eq!(assembled, built, "{name}.gate differs from the builder");
        assert_eq!(
            Script::decode(&assembled).unwrap().gas_bound(),
            bound,
            "{name}"
        );
    }
}
