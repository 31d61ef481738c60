//! End-to-end tests of the real binary: a devnet process driven through its
//! CLI and JSON-RPC.

mod common;

use common::*;
use std::time::Duration;

fn balance(d: &Devnet, who: &str) -> u128 {
    d.cli_json(&["balance", who])["balance"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn transfers_land_in_blocks_and_survive_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chain");
    let mut d = Devnet::start(&dir, 200);
    assert_eq!(d.banner["accounts"].as_array().unwrap().len(), 10);
    assert_eq!(d.banner["accounts"][0]["name"], "dev:alice");
    let bob_before = balance(&d, "dev:bob");

    let r = d.cli_json(&[
        "transfer",
        "--from",
        "dev:alice",
        "--to",
        "dev:bob",
        "--amount",
        "1.5",
        "--wait",
    ]);
    assert_eq!(r["status"], "included");
    assert_eq!(r["receipt"]["status"], "success");
    let hash = r["tx"]["hash"].as_str().unwrap().to_string();
    let height = r["block_height"].as_u64().unwrap();
    assert_eq!(balance(&d, "dev:bob"), bob_before + 1_500_000_000);

    // The block holds it, and `tx` finds it.
    let block = d.cli_json(&["block", &height.to_string()]);
    assert!(
        block["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["hash"] == hash.as_str())
    );
    assert_eq!(
        d.cli_json(&["tx", &hash])["block_height"].as_u64(),
        Some(height)
    );

    // A second transfer with an address rather than a dev name.
    let bob_addr = d.cli_json(&["keys", "show", "dev:bob"])["address"]
        .as_str()
        .unwrap()
        .to_string();
    d.cli_json(&[
        "transfer",
        "--from",
        "dev:carol",
        "--to",
        &bob_addr,
        "--amount",
        "2",
        "--wait",
    ]);
    let bob_after = balance(&d, "dev:bob");
    assert_eq!(bob_after, bob_before + 3_500_000_000);
    let alice = balance(&d, "dev:alice");

    let h = d.wait_height(height + 2, Duration::from_secs(20));
    d.terminate();
    let d2 = Devnet::start(&dir, 200);
    assert!(d2.height() >= h, "height went back after restart");
    assert_eq!(balance(&d2, "dev:bob"), bob_after);
    assert_eq!(balance(&d2, "dev:alice"), alice);
    assert_eq!(
        d2.cli_json(&["tx", &hash])["block_height"].as_u64(),
        Some(height)
    );
    d2.wait_height(h + 3, Duration::from_secs(20));
}

#[test]
fn a_nonce_gap_is_queued_then_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join("chain"), 150);
    let next = d.cli_json(&["balance", "dev:dave"])["pending_nonce"]
        .as_u64()
        .unwrap();
    let ahead = d.cli_json(&[
        "transfer",
        "--from",
        "dev:dave",
        "--to",
        "dev:eve",
        "--amount",
        "1",
        "--nonce",
        &(next + 1).to_string(),
    ]);
    assert_eq!(ahead["status"], "queued");
    let ahead_hash = ahead["hash"].as_str().unwrap().to_string();
    // Blocks pass and it stays queued.
    let h = d.height();
    d.wait_height(h + 3, Duration::from_secs(20));
    assert_eq!(d.cli_json(&["tx", &ahead_hash])["status"], "queued");
    assert_eq!(d.cli_json(&["status"])["mempool_queued"], 1);
    // Other senders are not held up.
    d.cli_json(&[
        "transfer",
        "--from",
        "dev:frank",
        "--to",
        "dev:eve",
        "--amount",
        "1",
        "--wait",
    ]);
    // Filling the gap runs both.
    d.cli_json(&[
        "transfer",
        "--from",
        "dev:dave",
        "--to",
        "dev:eve",
        "--amount",
        "1",
        "--nonce",
        &next.to_string(),
        "--wait",
    ]);
    let start = std::time::Instant::now();
    while d.cli_json(&["tx", &ahead_hash])["status"] != "included" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gap transaction never included"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        d.cli_json(&["balance", "dev:dave"])["nonce"].as_u64(),
        Some(next + 2)
    );
}

#[test]
fn cli_errors_are_clear_and_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join("chain"), 500);
    let zero_hash = "00".repeat(32);
    let cases: &[(&[&str], &str)] = &[
        (&["balance", "not-an-address"], "not an address"),
        (&["balance", "dev:mallory"], "unknown dev account"),
        (&["tx", "abc"], "not a transaction hash"),
        (&["block", "999999"], "no block at height 999999"),
        (
            &[
                "transfer",
                "--from",
                "dev:alice",
                "--to",
                "dev:bob",
                "--amount",
                "1.0000000001",
            ],
            "more than 9 decimal places",
        ),
        (
            &[
                "transfer",
                "--from",
                "dev:alice",
                "--to",
                "dev:bob",
                "--amount",
                "99999999",
            ],
            "insufficient balance",
        ),
        (
            &[
                "transfer",
                "--from",
                "/nonexistent/key.json",
                "--to",
                "dev:bob",
                "--amount",
                "1",
            ],
            "cannot read key file",
        ),
        (&["tx", zero_hash.as_str()], "no transaction"),
    ];
    for (args, want) in cases {
        let out = d.cli(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            err.contains(want),
            "{args:?}: stderr {err:?} lacks {want:?}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{args:?} panicked: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout on error");
    }
    // With --json the error is still on stderr, as JSON.
    let out = d.cli(&["balance", "nope", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an address")
    );
    // An unreachable node.
    let out = std::process::Command::new(BIN)
        .args([
            "status",
            "--rpc",
            &format!("http://127.0.0.1:{}", free_port()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the node"));
}

#[test]
fn keys_new_writes_a_usable_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join("chain"), 150);
    let key = tmp.path().join("me.json");
    let k = d.cli_json(&["keys", "new", "--out", key.to_str().unwrap()]);
    let addr = k["address"].as_str().unwrap().to_string();
    assert_eq!(
        d.cli_json(&["keys", "show", key.to_str().unwrap()])["address"],
        addr.as_str()
    );
    // Refuses to overwrite.
    assert!(
        !d.cli(&["keys", "new", "--out", key.to_str().unwrap()])
            .status
            .success()
    );
    d.cli_json(&[
        "transfer",
        "--from",
        "dev:grace",
        "--to",
        &addr,
        "--amount",
        "3",
        "--wait",
    ]);
    d.cli_json(&[
        "transfer",
        "--from",
        key.to_str().unwrap(),
        "--to",
        "dev:grace",
        "--amount",
        "1",
        "--wait",
    ]);
    let bal: u128 = d.cli_json(&["balance", &addr])["balance"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(bal < 2_000_000_000 && bal > 1_990_000_000, "balance {bal}");
}
