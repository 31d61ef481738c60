//! The hard limits, each one just inside and just outside.

mod common;

use common::{BOB, env, host, kind, main_box};
use umbra_vm::{
    MAX_ITEM_BYTES, MAX_SCRIPT_BYTES, MAX_STACK, Op, Script, ScriptErrorKind, Verb, Verdict,
    VmErrorKind, assemble, run,
};

#[test]
fn script_size() {
    let ok = vec![Op::Ok as u8; MAX_SCRIPT_BYTES];
    assert!(Script::decode(&ok).is_ok());
    let mut big = ok;
    big.push(Op::Ok as u8);
    let e = Script::decode(&big).unwrap_err();
    assert!(matches!(e.kind, ScriptErrorKind::TooLarge { len, .. } if len == MAX_SCRIPT_BYTES + 1));
}

#[test]
fn stack_depth() {
    let full = "PUSHX 1\n".repeat(MAX_STACK);
    assert_eq!(common::verdict(&full), Verdict::Pass);
    let over = "PUSHX 1\n".repeat(MAX_STACK + 1);
    assert_eq!(kind(&over), VmErrorKind::StackOverflow);
    assert_eq!(kind(&format!("{full}DUP")), VmErrorKind::StackOverflow);
}

#[test]
fn item_size() {
    // 16 KiB doubled twice is exactly the limit; one more byte is not.
    let quarter = format!(
        "PUSHDATA 0x{}\nDUP\nCAT\nDUP\nCAT\n",
        "01".repeat(16 * 1024)
    );
    let src = format!("{quarter}SIZE\nPUSHX {MAX_ITEM_BYTES}\nEQUAL");
    assert_eq!(common::verdict(&src), Verdict::Pass);
    let over = format!("{quarter}PUSHDATA 0x01\nCAT");
    assert_eq!(
        kind(&over),
        VmErrorKind::ItemTooLarge {
            size: MAX_ITEM_BYTES + 1
        }
    );
}

#[test]
fn stack_bytes() {
    // 17 items of 64 KiB pass the item limit but not the 1 MiB frame limit.
    let quarter = format!(
        "PUSHDATA 0x{}\nDUP\nCAT\nDUP\nCAT\n",
        "01".repeat(16 * 1024)
    );
    let src = format!("{quarter}{}", "DUP\n".repeat(16));
    assert_eq!(kind(&src), VmErrorKind::MemoryLimit);
    let src = format!("{quarter}{}", "DUP\n".repeat(15));
    assert_eq!(common::verdict(&src), Verdict::Pass);
}

#[test]
fn integer_overflow() {
    assert_eq!(
        kind(&format!("PUSHX {}\nPUSHX 1\nADD", umbra_vm::Int::MAX)),
        VmErrorKind::Overflow
    );
}

#[test]
fn a_run_never_starts_above_its_limit() {
    let script = Script::decode(&assemble("PUSHDATA \"x\"\nSHA256\nRET").unwrap()).unwrap();
    assert_eq!(script.gas_bound(), 32);
    let mut h = host(BOB);
    let this = main_box(&h);
    let e = run(&script, &env(BOB, Verb::Read), &this, &mut h, 31).unwrap_err();
    assert_eq!(
        e.kind,
        VmErrorKind::BoundExceedsLimit {
            bound: 32,
            limit: 31
        }
    );
    assert_eq!(
        e.to_string(),
        "at byte 0: gas bound 32 exceeds the limit 31"
    );
    let o = run(&script, &env(BOB, Verb::Read), &this, &mut h, 32).unwrap();
    assert_eq!(o.gas_used, 32, "a straight line uses exactly its bound");
}
