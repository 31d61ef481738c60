//! `umbra node --spec --data-dir --key`: a node from a spec file and a key file.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn start_node(
    spec: &std::path::Path,
    data: &std::path::Path,
    key: &std::path::Path,
    port: u16,
) -> std::process::Child {
    Command::new(BIN)
        .args(["node", "--json", "--spec"])
        .arg(spec)
        .arg("--data-dir")
        .arg(data)
        .arg("--key")
        .arg(key)
        .args(["--rpc", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn rpc(port: u16, method: &str) -> serde_json::Value {
    let body =
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).to_string();
    serde_json::from_str(&http_post(port, body.as_bytes()).1).unwrap()
}

#[test]
fn a_node_runs_from_a_spec_and_key_file() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("validator.json");
    let other = tmp.path().join("other.json");
    for k in [&key, &other] {
        assert!(
            Command::new(BIN)
                .args(["keys", "new", "--out"])
                .arg(k)
                .output()
                .unwrap()
                .status
                .success()
        );
    }
    let keyfile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();

    // Take the spec a devnet writes and make our key its authority.
    let dev = Devnet::start(&tmp.path().join("devnet"), 200);
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dev.dir.join("spec.json")).unwrap()).unwrap();
    drop(dev);
    spec["name"] = "my-chain".into();
    spec["chain_id"] = 77.into();
    spec["consensus"]["authorities"] = serde_json::json!([keyfile["public_key"]]);
    spec["consensus"]["block_time_ms"] = 100.into();
    let spec_path = tmp.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();

    let port = free_port();
    let mut node = start_node(&spec_path, &tmp.path().join("n1"), &key, port);
    let mut line = String::new();
    let mut out1 = BufReader::new(node.stdout.take().unwrap());
    out1.read_line(&mut line).unwrap();
    let banner: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(banner["address"], keyfile["address"]);
    let start = Instant::now();
    loop {
        let st = rpc(port, "node_status")["result"].clone();
        assert_eq!(st["chain_id"], 77);
        assert_eq!(st["producing"], true);
        if st["height"].as_u64().unwrap() >= 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node is not producing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = node.kill();
    let _ = node.wait();

    // A key that is not an authority serves RPC but produces nothing.
    let port2 = free_port();
    let mut follower = start_node(&spec_path, &tmp.path().join("n2"), &other, port2);
    let mut line = String::new();
    let mut out2 = BufReader::new(follower.stdout.take().unwrap());
    out2.read_line(&mut line).unwrap();
    assert!(line.contains("\"height\":0"), "{line}");
    let st = rpc(port2, "node_status")["result"].clone();
    assert_eq!(st["producing"], false);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rpc(port2, "node_status")["result"]["height"], 0);
    let _ = follower.kill();
    let _ = follower.wait();

    // A broken spec is a clear error, not a panic.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"chain_id\": 1}").unwrap();
    let out = Command::new(BIN)
        .args(["node", "--spec"])
        .arg(&bad)
        .arg("--data-dir")
        .arg(tmp.path().join("n3"))
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("chain spec") && !err.contains("panicked"),
        "{err}"
    );
}
