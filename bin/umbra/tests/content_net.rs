//! PDFS across a real five-node network (`umbra testnet --storage`): every
//! block lands on exactly K storage nodes, any node serves the content, a
//! killed holder's blocks are re-replicated back to K copies, and a holder
//! whose disk corrupts blocks detects it and fetches good copies.

mod common;

use common::{BIN, http_request};
use serde_json::Value;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BLOCK: usize = 256 * 1024;
const K: usize = 3;

struct Node {
    port: u16,
    pid: u32,
    data_dir: PathBuf,
    alive: bool,
}

struct Net {
    launcher: Child,
    nodes: Vec<Node>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &self.nodes {
            let _ = Command::new("kill")
                .args(["-9", &n.pid.to_string()])
                .status();
        }
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn rpc(port: u16, method: &str, params: Value) -> Option<Value> {
    std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (_, resp) = common::http_post(port, body.to_string().as_bytes());
    serde_json::from_str::<Value>(&resp)
        .ok()?
        .get("result")
        .cloned()
}

fn start(dir: &Path) -> Net {
    let log = std::fs::File::create(dir.join("launcher.log")).unwrap();
    let mut launcher = Command::new(BIN)
        .args([
            "testnet",
            "--nodes",
            "5",
            "--storage",
            "--upkeep-secs",
            "2",
            "--dir",
        ])
        .arg(dir.join("net"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let file = dir.join("net").join("testnet.json");
    let log = || std::fs::read_to_string(dir.join("launcher.log")).unwrap_or_default();
    let begun = Instant::now();
    while !file.exists() {
        if let Ok(Some(status)) = launcher.try_wait() {
            panic!(
                "testnet launcher exited ({status}) before it was up; its log: {}",
                log()
            );
        }
        assert!(
            begun.elapsed() < Duration::from_secs(90),
            "testnet.json not written after 90 s; launcher log: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let nodes = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| Node {
            port: n["rpc"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap(),
            pid: n["pid"].as_u64().unwrap() as u32,
            data_dir: PathBuf::from(n["data_dir"].as_str().unwrap()),
            alive: true,
        })
        .collect();
    Net { launcher, nodes }
}

/// Block indices of `id` that node `n` holds.
fn held(n: &Node, id: &str) -> Vec<u64> {
    if !n.alive {
        return vec![];
    }
    let (status, _, body) = http_request(n.port, "GET", &format!("/content/{id}/local"), &[], b"");
    if status != 200 {
        return vec![];
    }
    serde_json::from_slice::<Value>(&body).unwrap()["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect()
}

/// Copies of each block among the live nodes.
fn copies(net: &Net, id: &str, blocks: usize) -> Vec<usize> {
    let mut c = vec![0; blocks];
    for n in &net.nodes {
        for b in held(n, id) {
            c[b as usize] += 1;
        }
    }
    c
}

fn cli(port: u16, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(args)
        .args(["--json", "--rpc", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umbra {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn get_via(n: &Node, id: &str, out: &Path) -> Vec<u8> {
    cli(
        n.port,
        &[
            "get",
            id,
            "-o",
            out.to_str().unwrap(),
            "--from",
            "dev:alice",
        ],
    );
    std::fs::read(out).unwrap()
}

#[test]
fn five_storage_nodes_keep_k_copies_through_a_crash_and_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut net = start(dir);
    wait_until(120, "all five storage nodes registered", || {
        rpc(net.nodes[0].port, "storage_nodes", serde_json::json!([]))
            .and_then(|v| v.as_array().map(Vec::len))
            == Some(5)
    });

    // 1. Upload through node 0: each block on exactly K nodes.
    let data: Vec<u8> = (0..9 * BLOCK + 1)
        .map(|i| (i * 31 % 251) as u8 ^ (i >> 11) as u8)
        .collect();
    let file = dir.join("data");
    std::fs::write(&file, &data).unwrap();
    let put = cli(
        net.nodes[0].port,
        &[
            "put",
            file.to_str().unwrap(),
            "--from",
            "dev:alice",
            "--replicas",
            "3",
        ],
    );
    let id = put["content_id"].as_str().unwrap().to_string();
    let blocks = 10;
    assert_eq!(put["min_replicas_placed"].as_u64(), Some(K as u64), "{put}");
    // Staged on node 0, then placed: exactly K copies, so node 0 dropped
    // what it staged only to pass on.
    assert_eq!(put["one_pass"], serde_json::json!(true), "{put}");
    assert_eq!(copies(&net, &id, blocks), vec![K; blocks]);
    // Placement spreads the blocks: more than K nodes hold some of them.
    let holders = net
        .nodes
        .iter()
        .filter(|n| !held(n, &id).is_empty())
        .count();
    assert!(holders > K, "only {holders} nodes hold blocks");

    // 2. Any node serves it, holding blocks or not.
    assert_eq!(get_via(&net.nodes[4], &id, &dir.join("a.out")), data);

    // 3. Kill -9 a holder: the others bring every block back to K copies.
    let victim = (1..5)
        .find(|&i| !held(&net.nodes[i], &id).is_empty())
        .unwrap();
    let _ = Command::new("kill")
        .args(["-9", &net.nodes[victim].pid.to_string()])
        .status();
    net.nodes[victim].alive = false;
    wait_until(90, "every block back to K live copies", || {
        copies(&net, &id, blocks).iter().all(|&c| c >= K)
    });
    let reader = (0..5).find(|&i| i != victim).unwrap();
    assert_eq!(get_via(&net.nodes[reader], &id, &dir.join("b.out")), data);

    // 4. A holder whose stored blocks are corrupted is routed around: the
    // reader gets every block intact from the other copies.
    let bad = (0..5)
        .find(|&i| net.nodes[i].alive && !held(&net.nodes[i], &id).is_empty())
        .unwrap();
    // Its blocks are records in segment files; flipping one byte in every
    // 64 hits the bytes of every record (each block here is a full
    // encrypted block, 256 KiB + 16). Written in place, never truncating:
    // the node keeps running and may append meanwhile.
    let mut corrupted = 0;
    let segments = net.nodes[bad].data_dir.join("storage").join("segments");
    for f in std::fs::read_dir(&segments).unwrap().flatten() {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(f.path())
            .unwrap();
        let mut b = Vec::new();
        (&file).read_to_end(&mut b).unwrap();
        for i in (0..b.len()).step_by(64) {
            b[i] ^= 0xff;
        }
        file.write_all_at(&b, 0).unwrap();
        // Whole blocks' worth of bytes flipped.
        corrupted += b.len() / BLOCK;
    }
    assert!(corrupted > 0);
    // Read through the damaged node itself: every block it holds is bad on
    // its disk, so each must be detected there and fetched from a peer (a
    // corrupted block that got through would fail the client's hash check).
    assert_eq!(get_via(&net.nodes[bad], &id, &dir.join("c.out")), data);
}
