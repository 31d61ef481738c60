//! Harness for tests that run the real `umbra` binary as a separate process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_umbra");

/// A port on 127.0.0.1 nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A devnet process; killed (SIGKILL) when dropped.
pub struct Devnet {
    pub child: Child,
    pub dir: PathBuf,
    pub port: u16,
    pub url: String,
    pub banner: serde_json::Value,
}

impl Devnet {
    pub fn start(dir: &Path, block_time_ms: u64) -> Devnet {
        Self::start_on(dir, block_time_ms, free_port())
    }

    pub fn start_on(dir: &Path, block_time_ms: u64, port: u16) -> Devnet {
        Self::start_with(dir, block_time_ms, port, &[])
    }

    /// Starts a devnet with extra `umbra devnet` arguments.
    pub fn start_with(dir: &Path, block_time_ms: u64, port: u16, extra: &[&str]) -> Devnet {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("log"))
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["devnet", "--json", "--data-dir"])
            .arg(dir)
            .args([
                "--rpc",
                &format!("127.0.0.1:{port}"),
                "--block-time-ms",
                &block_time_ms.to_string(),
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start umbra devnet");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("devnet banner");
        let banner: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "devnet banner is not JSON ({e}): {line:?}; log: {}",
                std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default()
            )
        });
        let url = format!("http://127.0.0.1:{port}");
        Devnet {
            child,
            dir: dir.to_path_buf(),
            port,
            url,
            banner,
        }
    }

    /// Runs a client command against this devnet.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--rpc", &self.url])
            .output()
            .expect("run umbra")
    }

    /// Runs a client command with --json and parses its one JSON value.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new(BIN)
            .args(args)
            .args(["--json", "--rpc", &self.url])
            .output()
            .expect("run umbra");
        assert!(
            out.status.success(),
            "umbra {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not one JSON value ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn rpc(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                .to_string();
        let (_, resp) = http_post(self.port, body.as_bytes());
        serde_json::from_str(&resp)
            .unwrap_or_else(|e| panic!("bad JSON-RPC response ({e}): {resp}"))
    }

    pub fn height(&self) -> u64 {
        self.rpc("chain_head", serde_json::json!([]))["result"]["height"]
            .as_u64()
            .expect("height")
    }

    /// Waits until the chain reaches `h`.
    pub fn wait_height(&self, h: u64, timeout: Duration) -> u64 {
        let start = Instant::now();
        loop {
            let now = self.height();
            if now >= h {
                return now;
            }
            assert!(
                start.elapsed() < timeout,
                "chain stuck at {now}, wanted {h}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Graceful stop (SIGTERM), waiting for exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A raw HTTP/1.1 POST to 127.0.0.1:port; returns (status code, body).
pub fn http_post(port: u16, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The server may answer and close before reading an oversize body.
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(h, b)| {
        if h.to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(b)
        } else {
            b.to_string()
        }
    });
    (status, body.unwrap_or_default())
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = b.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        b = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// An account's balance in base units, through `umbra balance`.
pub fn balance(d: &Devnet, who: &str) -> u128 {
    d.cli_json(&["balance", who])["balance"]
        .as_str()
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no balance for {who}"))
}

/// Runs a command that must fail; returns its stderr.
pub fn refused(d: &Devnet, args: &[&str]) -> String {
    let out = d.cli(args);
    assert!(
        !out.status.success(),
        "umbra {args:?} should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A raw HTTP/1.1 request to 127.0.0.1:port, binary-safe; returns (status,
/// lower-cased head, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&buf[..split]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, buf[split + 4..].to_vec())
}
