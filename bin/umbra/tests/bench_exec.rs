//! `umbra bench exec` runs both workloads end to end on a small scale: the
//! command fails if the two executors disagree or a transaction is left
//! out, so a passing run says the workloads are valid and the executors
//! agree on them. Speed is not checked here.

mod common;

use common::BIN;
use std::process::Command;

fn bench(extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args([
            "bench",
            "exec",
            "--json",
            "--txs",
            "600",
            "--accounts",
            "150",
            "--block-txs",
            "300",
            "--hot-ratio",
            "0,0.5,1",
            "--repeat",
            "1",
        ])
        .args(extra)
        .output()
        .expect("run umbra bench exec")
}

fn cases(extra: &[&str]) -> Vec<serde_json::Value> {
    let out = bench(extra);
    assert!(
        out.status.success(),
        "bench exec {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON value");
    v.as_array().expect("an array of cases").clone()
}

fn check(cases: &[serde_json::Value], modes: &[&str]) {
    assert_eq!(cases.len(), 3 * 2 * modes.len(), "{cases:?}");
    for pair in cases.chunks(2) {
        let (s, p) = (&pair[0], &pair[1]);
        assert_eq!(s["executor"], "sequential");
        assert_eq!(p["executor"], "parallel");
        assert_eq!(s["mode"], p["mode"]);
        assert!(modes.contains(&s["mode"].as_str().unwrap_or("")));
        assert_eq!(s["result"], p["result"], "the executors disagree: {pair:?}");
        assert_eq!(p["txs"], 600);
        assert_eq!(p["blocks"], 2);
        for key in [
            "tps",
            "speedup",
            "machine_alu",
            "machine_chase",
            "transfer_ceiling",
        ] {
            assert!(p[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {p}");
        }
    }
    // Different hot ratios are different workloads.
    assert_ne!(cases[0]["result"], cases[cases.len() - 1]["result"]);
}

#[test]
fn transfers_and_pushes_run_and_agree() {
    check(&cases(&["--mode", "both"]), &["exec", "commit"]);
    check(
        &cases(&["--workload", "pushes", "--mode", "exec"]),
        &["exec"],
    );
}

#[test]
fn pushes_with_commit_is_refused_with_a_reason() {
    let out = bench(&["--workload", "pushes"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--mode exec"), "{err}");
}
