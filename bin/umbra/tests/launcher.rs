//! A benchmark killed with SIGKILL must leave no network behind: the
//! launcher (`umbra testnet --exit-with-parent`) notices its parent is gone
//! and stops its nodes, and each node stops when its launcher does, even
//! when the launcher itself is killed.

mod common;

use common::BIN;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Live processes whose command line mentions `marker` (zombies have an
/// empty one), other than `except`.
fn processes_mentioning(marker: &str, except: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            (pid != except && String::from_utf8_lossy(&cmd).contains(marker)).then_some(pid)
        })
        .collect()
}

fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

fn wait_gone(marker: &str, except: u32, what: &str) {
    let killed = Instant::now();
    loop {
        let left = processes_mentioning(marker, except);
        if left.is_empty() {
            return;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "{what}: still running 30 s later: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for `n` processes mentioning `marker` (node data dirs are under
/// it, and so is the launcher's `--dir`).
fn wait_started(marker: &str, except: u32, n: usize) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let running = processes_mentioning(marker, except);
        if running.len() >= n {
            // Let the nodes get going, so they are killed mid-run.
            std::thread::sleep(Duration::from_secs(2));
            return running;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the test network never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_killed_parent_leaves_no_testnet_running() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("orphan-check-net");
    let marker = dir.display().to_string();
    // A shell stands in for the benchmark: it starts the launcher, and is
    // then killed without a chance to stop it.
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{BIN}' testnet --exit-with-parent --nodes 2 --dir '{marker}' >/dev/null 2>&1 & wait"
        ))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    // The launcher and both nodes.
    wait_started(&marker, parent.id(), 3);
    parent.kill().unwrap();
    parent.wait().unwrap();
    wait_gone(
        &marker,
        parent.id(),
        "after the launcher's parent was killed",
    );

    // The launcher itself killed: its nodes notice and stop.
    let dir = tmp.path().join("orphan-check-net-2");
    let marker = dir.display().to_string();
    let mut launcher = Command::new(BIN)
        .args(["testnet", "--nodes", "2", "--dir", &marker])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = wait_started(&marker, launcher.id(), 2);
    assert!(
        running.iter().all(|&pid| cmdline(pid).contains(" node ")),
        "only nodes besides the launcher: {:?}",
        running.iter().map(|&p| cmdline(p)).collect::<Vec<_>>()
    );
    launcher.kill().unwrap();
    launcher.wait().unwrap();
    wait_gone(&marker, launcher.id(), "after their launcher was killed");
}
