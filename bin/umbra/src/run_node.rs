//! `umbra devnet` and `umbra node`: run a node until Ctrl-C.

use crate::cli::{DevnetArgs, Global, NodeArgs};
use anyhow::Context;
use std::path::PathBuf;
use umbra_crypto::{DEV_ACCOUNT_NAMES, dev_keypair};
use umbra_node::p2p::{P2pSettings, p2p_secret};
use umbra_node::{ChainSpec, MempoolConfig, Node, NodeConfig, dev_spec, load_key, now_ms};
use umbra_storage::StoreConfig;
use umbra_types::format_amount;

/// Logs to stderr; `RUST_LOG` overrides `default` (e.g. `info`).
pub fn init_logs_with(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn default_devnet_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".umbra").join("devnet"),
        None => PathBuf::from(".umbra").join("devnet"),
    }
}

pub(crate) async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Returns once the process that started this one has exited (this one
/// was re-parented), checking twice a second; never without `watch`.
pub(crate) async fn parent_exited(watch: bool) {
    if !watch {
        return std::future::pending().await;
    }
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending().await
}

/// Ctrl-C, SIGTERM, or (with `exit_with_parent`) the parent's exit.
pub(crate) async fn wait_for_stop(exit_with_parent: bool) {
    tokio::select! {
        _ = wait_for_shutdown() => {}
        _ = parent_exited(exit_with_parent) => {
            tracing::warn!(target: "umbra::node", "the process that started this one exited");
        }
    }
}

pub(crate) async fn run_until_signal(node: Node, exit_with_parent: bool) {
    wait_for_stop(exit_with_parent).await;
    tracing::info!(target: "umbra::node", "shutting down");
    node.stop().await;
}

pub async fn devnet(a: DevnetArgs, g: &Global) -> anyhow::Result<()> {
    init_logs_with("info");
    let dir = a.data_dir.unwrap_or_else(default_devnet_dir);
    if a.fresh && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let spec_path = dir.join("spec.json");
    let spec = if spec_path.exists() {
        ChainSpec::load(&spec_path)?
    } else {
        let (spec, _) = dev_spec(a.block_time_ms, now_ms());
        spec.save(&spec_path)?;
        spec
    };
    let node = Node::start(NodeConfig {
        data_dir: dir.clone(),
        spec: spec.clone(),
        key: Some(dev_keypair("validator")),
        rpc_addr: a.rpc,
        block_time_ms: Some(a.block_time_ms),
        store: StoreConfig {
            prune_window: a.state_window,
            ..StoreConfig::default()
        },
        mempool: MempoolConfig::default(),
        executor: a.exec.choice(),
        p2p: None,
        admin_rpc: false,
        storage: (!a.no_storage).then(|| a.store.settings(dir.join("storage"))),
    })
    .await?;
    let rpc_url = format!("http://{}", node.rpc_addr());
    let mut accounts = Vec::new();
    for name in DEV_ACCOUNT_NAMES {
        let k = dev_keypair(name);
        let acct = node.chain().account(&k.address())?;
        accounts.push(serde_json::json!({
            "name": format!("dev:{name}"),
            "address": k.address(),
            "balance": format_amount(acct.balance),
            "secret_key": hex::encode(k.seed()),
        }));
    }
    let head = node.chain().head();
    if g.json {
        let v = serde_json::json!({
            "chain_id": spec.chain_id,
            "rpc": rpc_url,
            "data_dir": dir,
            "height": head.height,
            "block_time_ms": a.block_time_ms,
            "accounts": accounts,
        });
        println!("{v}");
    } else {
        println!(
            "umbra devnet — chain {} at height {}",
            spec.chain_id, head.height
        );
        println!("RPC:      {rpc_url}  (HTTP and WebSocket)");
        println!("data dir: {}", dir.display());
        println!("blocks:   every {} ms\n", a.block_time_ms);
        println!("Dev accounts (their keys are public: use them only on this devnet)");
        for (i, acc) in accounts.iter().enumerate() {
            println!(
                "({i}) {:<10} {}  {} UMB",
                acc["name"].as_str().unwrap_or_default(),
                acc["address"].as_str().unwrap_or_default(),
                acc["balance"].as_str().unwrap_or_default()
            );
        }
        println!("\nTry:  umbra transfer --from dev:alice --to dev:bob --amount 1.5 --wait");
        println!(
            "Stop with Ctrl-C; run again to continue the same chain, or with --fresh to start over."
        );
    }
    run_until_signal(node, false).await;
    Ok(())
}

pub async fn node(a: NodeArgs, g: &Global) -> anyhow::Result<()> {
    init_logs_with("info");
    let spec = ChainSpec::load(&a.spec)?;
    let key = load_key(&a.key)?;
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("cannot create {}", a.data_dir.display()))?;
    let node = Node::start(NodeConfig {
        data_dir: a.data_dir.clone(),
        spec,
        key: Some(key.clone()),
        rpc_addr: a.rpc_addr,
        block_time_ms: a.block_time_ms,
        store: StoreConfig {
            prune_window: a.state_window,
            sync_writes: a.sync_writes,
        },
        mempool: MempoolConfig::default(),
        executor: a.exec.choice(),
        p2p: a.p2p.map(|listen| P2pSettings {
            listen,
            bootstrap: a.bootstrap.clone(),
            secret: p2p_secret(&key),
        }),
        admin_rpc: a.admin_rpc,
        storage: a.storage.clone().map(|d| a.store.settings(d)),
    })
    .await?;
    let head = node.chain().head();
    let (peer_id, p2p_addrs) = match node.network() {
        Some(n) => {
            let id = n.local_peer_id();
            let addrs: Vec<String> = n
                .listen_addrs()
                .await
                .unwrap_or_default()
                .iter()
                .map(|a| umbra_network::peer_addr(a, id).to_string())
                .collect();
            (Some(id.to_string()), addrs)
        }
        None => (None, vec![]),
    };
    let v = serde_json::json!({
        "rpc": format!("http://{}", node.rpc_addr()),
        "address": key.address(),
        "height": head.height,
        "peer_id": peer_id,
        "p2p": p2p_addrs,
    });
    // One line, so a supervisor can read the banner and keep going.
    if g.json {
        println!("{v}");
    } else {
        println!(
            "umbra node {} serving RPC on http://{} at height {}",
            key.address(),
            node.rpc_addr(),
            head.height
        );
        for a in &p2p_addrs {
            println!("p2p: {a}");
        }
    }
    run_until_signal(node, a.exit_with_parent).await;
    Ok(())
}
