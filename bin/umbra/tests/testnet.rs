//! A real five-miner AEDPoS network: `umbra testnet` starts five node
//! processes on 127.0.0.1; the test kills one, restarts it, splits the
//! network 2 | 3 with the admin peer block-list, and heals it, checking
//! that the nodes keep one chain and never revert an irreversible block.

mod common;

use common::{BIN, http_post};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node {
    port: u16,
    peer_id: String,
    address: String,
    pid: u32,
    args: Vec<String>,
    data_dir: PathBuf,
    /// Set when the test restarted it itself.
    child: Option<Child>,
}

impl Node {
    /// `None` if the node is down or answers with an error.
    fn rpc(&self, method: &str, params: Value) -> Option<Value> {
        // A node being restarted refuses connections for a moment.
        std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, resp) = http_post(self.port, body.to_string().as_bytes());
        let v: Value = serde_json::from_str(&resp).ok()?;
        v.get("result").cloned()
    }

    fn status(&self) -> Option<Value> {
        self.rpc("node_status", json!([]))
    }

    fn lib(&self) -> u64 {
        self.status()
            .and_then(|s| s["irreversible_height"].as_u64())
            .unwrap_or(0)
    }

    fn hash_at(&self, h: u64) -> Option<String> {
        self.rpc("chain_block", json!([h]))
            .and_then(|b| b["header"]["hash"].as_str().map(str::to_string))
    }

    fn kill9(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        if let Some(c) = &mut self.child {
            let _ = c.wait();
        }
    }
}

struct Net {
    launcher: Child,
    nodes: Vec<Node>,
    program: PathBuf,
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill9();
        }
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
    }
}

fn start(dir: &Path, nodes: usize) -> Net {
    let log = std::fs::File::create(dir.join("launcher.log")).unwrap();
    let mut launcher = Command::new(BIN)
        .args(["testnet", "--nodes", &nodes.to_string(), "--dir"])
        .arg(dir.join("net"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let file = dir.join("net").join("testnet.json");
    let start = Instant::now();
    while !file.exists() {
        if let Ok(Some(status)) = launcher.try_wait() {
            panic!(
                "testnet launcher exited ({status}) before it was up; its log: {}",
                std::fs::read_to_string(dir.join("launcher.log")).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "testnet.json not written; launcher log: {}",
            std::fs::read_to_string(dir.join("launcher.log")).unwrap_or_default()
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
            peer_id: n["peer_id"].as_str().unwrap().to_string(),
            address: n["address"].as_str().unwrap().to_string(),
            pid: n["pid"].as_u64().unwrap() as u32,
            args: n["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
            data_dir: PathBuf::from(n["data_dir"].as_str().unwrap()),
            child: None,
        })
        .collect();
    Net {
        launcher,
        nodes,
        program: PathBuf::from(v["program"].as_str().unwrap()),
    }
}

/// Polls `cond` until it holds, failing with `what` after `secs`.
fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every listed node has the same block at `height`.
fn agree_at(nodes: &[&Node], height: u64) -> bool {
    let hashes: BTreeSet<Option<String>> = nodes.iter().map(|n| n.hash_at(height)).collect();
    hashes.len() == 1 && hashes.iter().next().is_some_and(Option::is_some)
}

fn set_link(a: &Node, b: &Node, blocked: bool) {
    let m = if blocked {
        "admin_blockPeer"
    } else {
        "admin_unblockPeer"
    };
    assert_eq!(a.rpc(m, json!([b.peer_id])), Some(json!(true)));
    assert_eq!(b.rpc(m, json!([a.peer_id])), Some(json!(true)));
}

#[test]
fn five_miners_survive_a_crash_and_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = start(dir.path(), 5);
    let all = |net: &Net| -> Vec<usize> { (0..net.nodes.len()).collect() };

    // 1. All nodes build one chain and finalise it; every miner mines.
    wait_until(90, "every node's irreversible height >= 8", || {
        net.nodes.iter().all(|n| n.lib() >= 8)
    });
    let refs: Vec<&Node> = net.nodes.iter().collect();
    let min_lib = net.nodes.iter().map(Node::lib).min().unwrap();
    assert!(agree_at(&refs, min_lib), "nodes disagree at {min_lib}");
    let proposers: BTreeSet<String> = (1..=min_lib)
        .filter_map(|h| net.nodes[0].rpc("chain_block", json!([h])))
        .map(|b| b["header"]["proposer"].as_str().unwrap().to_string())
        .collect();
    for n in &net.nodes {
        assert!(proposers.contains(&n.address), "{} never mined", n.address);
    }
    let round = net.nodes[0].rpc("consensus_round", json!([])).unwrap();
    assert_eq!(round["miners"].as_array().unwrap().len(), 5);
    let st = net.nodes[0].status().unwrap();
    assert_eq!(st["consensus"], "aedpos");
    assert!(st["peers"].as_u64().unwrap() >= 1, "{st}");
    assert!(st["round"].as_u64().is_some());

    // 2. Kill one miner: the other four (a quorum of 5) keep finalising.
    net.nodes[4].kill9();
    let lib_at_kill = (0..4).map(|i| net.nodes[i].lib()).max().unwrap();
    wait_until(60, "irreversible height advances without node 4", || {
        (0..4).all(|i| net.nodes[i].lib() >= lib_at_kill + 5)
    });

    // 3. Restart it: it syncs what it missed and mines again.
    let restarted_at = net.nodes[0].status().unwrap()["height"].as_u64().unwrap();
    {
        let n = &mut net.nodes[4];
        let out = std::fs::File::create(n.data_dir.join("banner-restart.json")).unwrap();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(n.data_dir.join("node.log"))
            .unwrap();
        let child = Command::new(&net.program)
            .args(&n.args)
            .stdout(out)
            .stderr(log)
            .spawn()
            .unwrap();
        n.pid = child.id();
        n.child = Some(child);
    }
    wait_until(60, "node 4 catches up", || {
        net.nodes[4]
            .status()
            .and_then(|s| s["height"].as_u64())
            .is_some_and(|h| h >= restarted_at)
    });
    let four = net.nodes[4].address.clone();
    wait_until(60, "node 4 mines again", || {
        let head = net.nodes[0].status().unwrap()["height"].as_u64().unwrap();
        (restarted_at + 1..=head).any(|h| {
            net.nodes[0]
                .rpc("chain_block", json!([h]))
                .is_some_and(|b| b["header"]["proposer"] == four.as_str())
        })
    });

    // 4. Split 2 | 3. Neither side has ⌊2·5/3⌋+1 = 4 miners, so neither
    // may finalise; the minority in particular must not.
    for a in [0, 1] {
        for b in [2, 3, 4] {
            set_link(&net.nodes[a], &net.nodes[b], true);
        }
    }
    // Let rounds begun before the split settle.
    std::thread::sleep(Duration::from_secs(4));
    let minority_lib: Vec<u64> = [0, 1].iter().map(|&i| net.nodes[i].lib()).collect();
    std::thread::sleep(Duration::from_secs(10));
    for (k, &i) in [0usize, 1].iter().enumerate() {
        assert_eq!(
            net.nodes[i].lib(),
            minority_lib[k],
            "minority node {i} advanced its irreversible height"
        );
    }
    // What each node holds irreversible now must survive the heal.
    let finalised: Vec<(u64, String)> = net
        .nodes
        .iter()
        .map(|n| {
            let lib = n.lib();
            (lib, n.hash_at(lib).unwrap())
        })
        .collect();
    let max_lib = finalised.iter().map(|(h, _)| *h).max().unwrap();

    // 5. Heal: one chain again, finalising again, nothing final reverted.
    for a in [0, 1] {
        for b in [2, 3, 4] {
            set_link(&net.nodes[a], &net.nodes[b], false);
        }
    }
    wait_until(
        90,
        "irreversible height advances on every node after the heal",
        || net.nodes.iter().all(|n| n.lib() >= max_lib + 4),
    );
    let refs: Vec<&Node> = all(&net).iter().map(|&i| &net.nodes[i]).collect();
    let common = net.nodes.iter().map(Node::lib).min().unwrap();
    assert!(
        agree_at(&refs, common),
        "nodes disagree at {common} after the heal"
    );
    for (height, hash) in &finalised {
        for n in &net.nodes {
            assert_eq!(
                n.hash_at(*height).as_ref(),
                Some(hash),
                "an irreversible block at {height} was reverted"
            );
        }
    }
}
