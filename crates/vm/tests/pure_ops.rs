//! Arithmetic, byte, logic, stack and control instructions, and their errors.

mod common;

use common::{error, exec, kind, verdict, yields};
use umbra_vm::{Int, Op, Verdict, VmErrorKind};

#[test]
fn arithmetic() {
    yields("PUSHX 2\nPUSHX 3\nADD", "PUSHX 5");
    yields("PUSHX 2\nPUSHX 3\nSUB", "PUSHX -1");
    yields("PUSHX -4\nPUSHX 3\nMUL", "PUSHX -12");
    yields("PUSHX -7\nPUSHX 2\nDIV", "PUSHX -3");
    yields("PUSHX -7\nPUSHX 2\nMOD", "PUSHX -1");
    yields("PUSHX 7\nPUSHX -9\nMIN", "PUSHX -9");
    yields("PUSHX 7\nPUSHX -9\nMAX", "PUSHX 7");
    // Bytes are little-endian two's complement integers.
    yields("PUSHDATA 0x0501\nPUSHX 0\nADD", "PUSHX 261");
    yields("PUSHDATA 0xff\nPUSHX 0\nADD", "PUSHX -1");
    yields("PUSHDATA \"\"\nPUSHX 4\nADD", "PUSHX 4");
}

#[test]
fn arithmetic_errors() {
    let max = Int::MAX.to_string();
    let min = Int::MIN.to_string();
    assert_eq!(
        kind(&format!("PUSHX {max}\nPUSHX 1\nADD")),
        VmErrorKind::Overflow
    );
    assert_eq!(
        kind(&format!("PUSHX {min}\nPUSHX 1\nSUB")),
        VmErrorKind::Overflow
    );
    assert_eq!(
        kind(&format!("PUSHX {max}\nPUSHX 2\nMUL")),
        VmErrorKind::Overflow
    );
    assert_eq!(
        kind(&format!("PUSHX {min}\nPUSHX -1\nDIV")),
        VmErrorKind::Overflow
    );
    assert_eq!(kind("PUSHX 1\nPUSHX 0\nDIV"), VmErrorKind::DivisionByZero);
    assert_eq!(kind("PUSHX 1\nPUSHX 0\nMOD"), VmErrorKind::DivisionByZero);
    // MAX itself is fine; it is the +1 that is refused.
    yields(
        &format!("PUSHX {max}\nPUSHX 0\nADD"),
        &format!("PUSHX {max}"),
    );
    let big = format!("PUSHDATA 0x{}\nPUSHX 1\nADD", "01".repeat(33));
    assert_eq!(kind(&big), VmErrorKind::NotAnInteger);
}

#[test]
fn bytes() {
    yields("PUSHDATA \"ab\"\nPUSHDATA \"cd\"\nCAT", "PUSHDATA \"abcd\"");
    yields("PUSHDATA \"abcd\"\nPUSHX 3\nLEFT", "PUSHDATA \"abc\"");
    yields("PUSHDATA \"abcd\"\nPUSHX 3\nRIGHT", "PUSHDATA \"bcd\"");
    yields("PUSHDATA \"abcd\"\nPUSHX 0\nRIGHT", "PUSHDATA \"\"");
    yields("PUSHDATA \"abcd\"\nPUSHX 4\nLEFT", "PUSHDATA \"abcd\"");
    yields("PUSHDATA \"abcd\"\nSIZE", "PUSHX 4");
    yields("PUSHX 128\nSIZE", "PUSHX 2");
    yields("PUSHX 0\nSIZE", "PUSHX 0");
    // CAT of an Int uses its canonical bytes.
    yields("PUSHX 1\nPUSHX 2\nCAT", "PUSHDATA 0x0102");
    assert_eq!(
        kind("PUSHDATA \"ab\"\nPUSHX 3\nLEFT"),
        VmErrorKind::OutOfRange(Op::Left)
    );
    assert_eq!(
        kind("PUSHDATA \"ab\"\nPUSHX -1\nRIGHT"),
        VmErrorKind::OutOfRange(Op::Right)
    );
    yields(
        "PUSHDATA \"abc\"\nSHA256",
        "PUSHDATA 0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
}

#[test]
fn logic_and_comparison() {
    yields("PUSHX 5\nPUSHDATA 0x05\nEQUAL", "PUSHX 1");
    yields("PUSHX 5\nPUSHDATA 0x0500\nEQUAL", "PUSHX 0");
    yields("PUSHX 1\nNOT", "PUSHX 0");
    yields("PUSHX 0\nNOT", "PUSHX 1");
    yields("PUSHDATA 0x0000\nNOT", "PUSHX 1");
    yields("PUSHX 6\nPUSHX 3\nAND", "PUSHX 2");
    yields("PUSHX 6\nPUSHX 3\nOR", "PUSHX 7");
    yields("PUSHX 2\nPUSHX 3\nLT", "PUSHX 1");
    yields("PUSHX 3\nPUSHX 3\nLT", "PUSHX 0");
    yields("PUSHX 2\nPUSHX 3\nGT", "PUSHX 0");
    yields("PUSHX 3\nPUSHX 3\nLET", "PUSHX 1");
    yields("PUSHX 4\nPUSHX 3\nLET", "PUSHX 0");
    yields("PUSHX 3\nPUSHX 3\nGET", "PUSHX 1");
    yields("PUSHX -1\nPUSHX 0\nGET", "PUSHX 0");
}

#[test]
fn stack_shuffles() {
    yields("PUSHX 4\nDUP\nADD", "PUSHX 8");
    yields("PUSHX 4\nPUSHX 9\nDROP", "PUSHX 4");
    yields("PUSHX 1\nPUSHX 9\nSWAP\nSUB", "PUSHX 8");
    let e = error("ADD");
    assert_eq!(e.kind, VmErrorKind::StackUnderflow(Op::Add));
    assert_eq!(e.to_string(), "at byte 0: stack underflow in ADD");
    let e = error("PUSHX 1\nPUSHX 2\nADD\nADD");
    assert_eq!(e.to_string(), "at byte 7: stack underflow in ADD");
    assert_eq!(kind("DUP"), VmErrorKind::StackUnderflow(Op::Dup));
    assert_eq!(kind("PUSHX 1\nSWAP"), VmErrorKind::StackUnderflow(Op::Swap));
}

#[test]
fn control() {
    assert_eq!(verdict("OK"), Verdict::Pass);
    assert_eq!(verdict("FAIL"), Verdict::Fail);
    assert_eq!(verdict(""), Verdict::Fail);
    assert_eq!(verdict("RET"), Verdict::Fail);
    assert_eq!(verdict("PUSHX 7\nRET\nFAIL"), Verdict::Pass);
    assert_eq!(verdict("PUSHX 0\nRET\nOK"), Verdict::Fail);
    assert_eq!(verdict("PUSHX 7"), Verdict::Pass);
    assert_eq!(verdict("PUSHDATA 0x00"), Verdict::Fail);
    // SKIP jumps when falsy, falls through when truthy.
    assert_eq!(verdict("PUSHX 0\nSKIP a\nFAIL\na: OK"), Verdict::Pass);
    assert_eq!(verdict("PUSHX 1\nSKIP a\nFAIL\na: OK"), Verdict::Fail);
    assert_eq!(verdict("PUSHX 0\nSKIP end\nFAIL\nend:"), Verdict::Fail);
    assert_eq!(kind("SKIP a\na: OK"), VmErrorKind::StackUnderflow(Op::Skip));
    assert_eq!(
        kind("PUSHDATA \"no entry\"\nTHROW"),
        VmErrorKind::Thrown("no entry".into())
    );
    assert_eq!(kind("THROW"), VmErrorKind::Thrown(String::new()));
}

#[test]
fn gas_is_metered_per_instruction() {
    let o = exec("PUSHX 1\nPUSHX 2\nADD\nPUSHDATA \"x\"\nSHA256\nDROP\nRET").unwrap();
    assert_eq!(o.gas_used, 1 + 1 + 2 + 1 + 30 + 1 + 1);
    // The skipped branch is not charged.
    let o = exec("PUSHX 0\nSKIP a\nPUSHDATA \"x\"\nSHA256\nFAIL\na: OK").unwrap();
    assert_eq!(o.gas_used, 1 + 1 + 1);
}
