//! `--executor` on the real binary: parallel by default, sequential on
//! request, and a chain written by one continues under the other.

mod common;

use common::*;
use std::time::Duration;

fn transfer(d: &Devnet, from: &str, to: &str) {
    let r = d.cli_json(&[
        "transfer", "--from", from, "--to", to, "--amount", "2", "--wait",
    ]);
    assert_eq!(r["receipt"]["status"], "success", "{r}");
}

#[test]
fn executor_is_parallel_by_default_and_sequential_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chain");
    let mut d = Devnet::start(&dir, 200);
    let status = d.cli_json(&["status"]);
    assert_eq!(status["executor"]["kind"], "parallel", "{status}");
    assert!(status["executor"]["threads"].as_u64().unwrap() >= 1);
    transfer(&d, "dev:alice", "dev:bob");
    let status = d.cli_json(&["status"]);
    assert_eq!(status["executor"]["rerun_txs"], 0);
    assert_eq!(status["executor"]["full_fallbacks"], 0);
    let h = d.height();
    d.terminate();

    // The same chain continues under the sequential executor.
    let d = Devnet::start_with(&dir, 200, free_port(), &["--executor", "sequential"]);
    assert_eq!(d.cli_json(&["status"])["executor"]["kind"], "sequential");
    assert!(d.height() >= h);
    transfer(&d, "dev:bob", "dev:carol");
    d.wait_height(h + 3, Duration::from_secs(20));
}

#[test]
fn unknown_executor_is_a_clear_error() {
    let out = std::process::Command::new(BIN)
        .args(["devnet", "--executor", "speculative"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("speculative") && err.contains("parallel"),
        "{err}"
    );
}
