//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "umbra",
    version,
    about = "umbra: a chain node, local devnet and command-line client",
    long_about = "umbra runs a chain node or a local devnet, and talks to a running node over JSON-RPC.\n\n\
                  Start a devnet with `umbra devnet`, then in another shell try\n  \
                  umbra transfer --from dev:alice --to dev:bob --amount 1.5 --wait\n  \
                  umbra balance dev:bob"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Global {
    /// Print exactly one JSON value on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Which node a client command talks to.
#[derive(Args, Clone)]
pub struct Conn {
    /// URL of the node's JSON-RPC endpoint.
    #[arg(long, env = "UMBRA_RPC", default_value = umbra_rpc::DEFAULT_RPC_URL)]
    pub rpc: String,
}

/// Parses a listen address, accepting `host:port` or `http://host:port`.
fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    let t = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("ws://"))
        .unwrap_or(s)
        .trim_end_matches('/');
    t.parse()
        .map_err(|_| format!("`{s}` is not an address like 127.0.0.1:9944"))
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a local single-node chain with ten funded dev accounts (dev:alice … dev:judy).
    Devnet(DevnetArgs),
    /// Run a node from a chain spec and a key file.
    Node(NodeArgs),
    /// Start a local AEDPoS network of N node processes on 127.0.0.1 and
    /// write DIR/testnet.json (RPC URLs, p2p addresses, pids, data dirs).
    Testnet(TestnetArgs),
    /// Create or inspect keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Send native tokens.
    Transfer(TransferArgs),
    /// Show an account's balance and nonce.
    Balance(BalanceArgs),
    /// Show a block (default: the latest).
    Block(BlockArgs),
    /// Look up a transaction by hash: pending, queued, or included with its receipt.
    Tx(TxArgs),
    /// Show the node's height, irreversible height, peers and mempool.
    Status(StatusArgs),
    /// Boxes: named message hubs with programmable gates.
    #[command(subcommand, name = "box")]
    Box(crate::cli_box::BoxCmd),
    /// Miner elections: announce candidacy, vote, withdraw, list.
    #[command(subcommand)]
    Election(crate::election_cmds::ElectionCmd),
    /// Gate scripts: assemble, disassemble, check.
    #[command(subcommand)]
    Gate(crate::cli_box::GateCmd),
    /// Measure performance.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Store a file in PDFS: encrypt it (unless --public), pay for its
    /// storage on chain, and upload its blocks to the storage nodes.
    ///
    /// The file is read once: each block goes to the node as soon as it is
    /// encrypted and hashed, staged there under a ticket you sign, and the
    /// node places the blocks once the allocation is on chain. A node that
    /// will not stage (full, or older) costs a second read of the file, and
    /// the output says why.
    Put(crate::content_cmds::PutArgs),
    /// Fetch content by id, verify every block and decrypt it with the key
    /// from your grant.
    Get(crate::content_cmds::GetArgs),
    /// Let another account read your content: wrap its key to their
    /// encryption key and record the grant on chain.
    Share(crate::content_cmds::ShareArgs),
    /// Content you own and content shared with you.
    Ls(crate::content_cmds::LsArgs),
    /// Print the key of content shared with you (and a gateway URL a
    /// browser can stream from).
    Key(crate::content_cmds::KeyArgs),
    /// Keep stored content longer: pay for another period (anyone may).
    Renew(crate::storage_cmds::RenewArgs),
    /// Remove an expired allocation and its grants from the chain.
    Collect(crate::storage_cmds::CollectArgs),
    /// Sell encrypted content: a shop box whose write gate takes the price
    /// once, listing the content. Buyers pay by ordering; `fulfil` grants.
    Sell(crate::sale_cmds::SellArgs),
    /// Buy content from a shop box: pay its gate with an order, then (with
    /// --wait) wait for the seller's grant.
    Buy(crate::sale_cmds::BuyArgs),
    /// Serve a shop's orders: grant the content key to every buyer the
    /// chain says has paid, and delete their orders (--watch keeps going).
    Fulfil(crate::sale_cmds::FulfilArgs),
}

#[derive(Args)]
pub struct DevnetArgs {
    /// Where the devnet keeps its chain (default: ~/.umbra/devnet).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to serve JSON-RPC (HTTP and WebSocket) on.
    #[arg(long, default_value = umbra_rpc::DEFAULT_RPC_ADDR, value_parser = listen_addr)]
    pub rpc: SocketAddr,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Delete the data dir first and start a new chain.
    #[arg(long)]
    pub fresh: bool,
    /// State versions kept before pruning (0 keeps all).
    #[arg(long, default_value_t = 1024)]
    pub state_window: u64,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Do not be a storage node (by default the devnet keeps content
    /// blocks in DATA_DIR/storage, so `umbra put` works out of the box).
    #[arg(long)]
    pub no_storage: bool,
    #[command(flatten)]
    pub store: StorageArgs,
}

/// How blocks are executed.
#[derive(Args, Clone, Copy)]
pub struct ExecArgs {
    /// Block executor: `parallel` runs non-conflicting transactions at once,
    /// `sequential` one by one. Both give identical blocks.
    #[arg(long, value_enum, default_value_t = ExecutorKind::Parallel)]
    pub executor: ExecutorKind,
    /// Threads of the parallel executor (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub exec_threads: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    Parallel,
    Sequential,
}

impl ExecArgs {
    pub fn choice(self) -> umbra_node::ExecutorChoice {
        match self.executor {
            ExecutorKind::Parallel => umbra_node::ExecutorChoice::Parallel {
                threads: self.exec_threads,
            },
            ExecutorKind::Sequential => umbra_node::ExecutorChoice::Sequential,
        }
    }
}

#[derive(Args)]
pub struct TestnetArgs {
    /// How many nodes (all genesis miners).
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Where the network keeps its spec, keys, data dirs and logs.
    #[arg(long, default_value = "testnet")]
    pub dir: PathBuf,
    /// Replace a test network already in --dir.
    #[arg(long)]
    pub fresh: bool,
    /// Length of an AEDPoS time slot, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub slot_ms: u64,
    /// Rounds per term (0: the genesis miners stay for good).
    #[arg(long, default_value_t = 0)]
    pub rounds_per_term: u64,
    /// Chain id written into the spec (every node, topic and transaction
    /// carries it).
    #[arg(long, default_value_t = 7357)]
    pub chain_id: u64,
    /// Make every node a storage node (blocks in node-i/storage).
    #[arg(long)]
    pub storage: bool,
    #[command(flatten)]
    pub store: StorageArgs,
    /// Stop the network when the process that started it exits (the
    /// benchmarks set this, so a killed benchmark leaves no node running).
    /// The nodes always stop when this launcher exits, even if it is killed.
    #[arg(long)]
    pub exit_with_parent: bool,
}

#[derive(Args)]
pub struct NodeArgs {
    /// Chain spec file (JSON).
    #[arg(long)]
    pub spec: PathBuf,
    /// Where the node keeps its chain.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The node's key file; it produces blocks if the key is an authority.
    #[arg(long)]
    pub key: PathBuf,
    /// Address to serve JSON-RPC (HTTP and WebSocket) on.
    #[arg(long = "rpc", default_value = umbra_rpc::DEFAULT_RPC_ADDR, value_parser = listen_addr)]
    pub rpc_addr: SocketAddr,
    /// Override the spec's block time, in milliseconds.
    #[arg(long)]
    pub block_time_ms: Option<u64>,
    /// State versions kept before pruning (0 keeps all).
    #[arg(long, default_value_t = 1024)]
    pub state_window: u64,
    /// fsync every block commit (survives power loss, not only process crashes).
    #[arg(long)]
    pub sync_writes: bool,
    /// Join a peer-to-peer network, listening on this address
    /// (`127.0.0.1:30333` or a multiaddr). Without it the node runs alone.
    #[arg(long, value_parser = umbra_node::p2p::parse_p2p_addr)]
    pub p2p: Option<umbra_network::Multiaddr>,
    /// A peer to join through, as a multiaddr ending in /p2p/<peer id>
    /// (repeatable). Peers found through them are discovered.
    #[arg(long, value_parser = umbra_node::p2p::parse_p2p_addr)]
    pub bootstrap: Vec<umbra_network::Multiaddr>,
    /// Serve the admin_* RPC methods (cutting links to peers). For local
    /// test networks only: anyone who can reach the RPC can use them.
    #[arg(long)]
    pub admin_rpc: bool,
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Be a storage node: keep content blocks in DIR, register on chain
    /// (locking the storage deposit) and serve blocks to peers.
    #[arg(long, value_name = "DIR")]
    pub storage: Option<PathBuf>,
    #[command(flatten)]
    pub store: StorageArgs,
    /// Stop when the process that started this node exits (`umbra testnet`
    /// sets this, so a killed launcher leaves no node running).
    #[arg(long)]
    pub exit_with_parent: bool,
}

/// How a storage node keeps content.
#[derive(Args, Clone, Copy)]
pub struct StorageArgs {
    /// Most bytes of blocks to keep (e.g. 500MiB, 20GiB, 1TB).
    #[arg(long, default_value = "10GiB", value_parser = crate::content_cmds::parse_size)]
    pub capacity: u64,
    /// Seconds between storage upkeep rounds (re-replication, provider
    /// records, garbage collection of expired content).
    #[arg(long, default_value_t = 10)]
    pub upkeep_secs: u64,
    /// Seconds an upload staged before its content is allocated may go
    /// without a new block before it is dropped (and its blocks collected).
    #[arg(long, default_value_t = 600)]
    pub stage_idle_secs: u64,
}

impl StorageArgs {
    pub fn settings(self, dir: PathBuf) -> umbra_node::content::StorageSettings {
        umbra_node::content::StorageSettings {
            dir,
            capacity: self.capacity,
            upkeep_every: std::time::Duration::from_secs(self.upkeep_secs.max(1)),
            stage_idle: std::time::Duration::from_secs(self.stage_idle_secs),
        }
    }
}

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Generate a new key and write it to a file (readable only by you).
    New {
        #[arg(long)]
        out: PathBuf,
        /// Accepted for uniformity; keys never talk to a node.
        #[command(flatten)]
        conn: Conn,
    },
    /// Show the address and public key of a key file or a dev account (dev:NAME).
    Show {
        key: String,
        /// Accepted for uniformity; keys never talk to a node.
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Args)]
pub struct TransferArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Sender: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    /// Receiver: an umb1… address or dev:NAME.
    #[arg(long)]
    pub to: String,
    /// Amount in tokens, up to 9 decimals (e.g. 1.5).
    #[arg(long)]
    pub amount: String,
    /// Most fee to pay, in tokens.
    #[arg(long, default_value = "0.001")]
    pub max_fee: String,
    /// Nonce to use (default: the next free one, counting pending transactions).
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Wait until the transaction is in a block and show its receipt.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct BalanceArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// An umb1… address or dev:NAME.
    pub account: String,
}

#[derive(Args)]
pub struct BlockArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Height, block hash, or `latest`.
    #[arg(default_value = "latest")]
    pub at: String,
}

#[derive(Args)]
pub struct TxArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Transaction hash (64 hex characters).
    pub hash: String,
}

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Pre-signed transfers through the whole pipeline of a fresh in-process devnet:
    /// RPC submit, signature check, mempool, execution, JMT + RocksDB commit.
    Transfers(BenchTransfersArgs),
    /// Block execution alone (in-memory state, no signatures) and with the
    /// JMT + RocksDB commit, sequential against parallel, by conflict ratio.
    Exec(BenchExecArgs),
    /// Gate evaluations per second for typical gates (allow-list, pay-once,
    /// subscription, pay-per-access) and raw gate VM instructions per second.
    Gates {
        /// Seconds to measure each case.
        #[arg(long, default_value_t = 2.0)]
        secs: f64,
    },
    /// Inclusion and finality latency (p50, p99) on a real local network:
    /// starts `umbra testnet` in a temp dir, funds bench accounts from the
    /// dev accounts, sends a steady load of transfers to every node and
    /// watches node 0's chain and irreversible height.
    Net(BenchNetArgs),
    /// PDFS put and get throughput on a local network of storage nodes
    /// (`umbra testnet --storage`), through the same code as `umbra put`/`get`.
    Storage(crate::bench_storage::BenchStorageArgs),
}

#[derive(Args)]
pub struct BenchNetArgs {
    /// Nodes of the test network (all of them miners).
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Target load, in transfers per second (sent every 100 ms, in batches
    /// of TPS/10, round-robin over the nodes).
    #[arg(long, default_value_t = 2_000)]
    pub tps: u64,
    /// How long to send the load, e.g. 30s or 2m (then up to 30 s more
    /// waiting for inclusion and finality).
    #[arg(long, default_value = "30s", value_parser = crate::bench_net::parse_duration)]
    pub duration: std::time::Duration,
    /// Length of an AEDPoS time slot, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub slot_ms: u64,
    /// Bench accounts to fund from the dev accounts and send from
    /// (round-robin, so each has few transfers in flight).
    #[arg(long, default_value_t = 1_000)]
    pub accounts: usize,
    /// Keep the network's temp dir (spec, data dirs, node logs) and print
    /// its path.
    #[arg(long)]
    pub keep_dir: bool,
}

#[derive(Args)]
pub struct BenchExecArgs {
    /// Transactions to execute per case.
    #[arg(long, default_value_t = 200_000)]
    pub txs: usize,
    /// What the transactions do.
    #[arg(long, value_enum, default_value_t = ExecWorkload::Transfers)]
    pub workload: ExecWorkload,
    /// Sender accounts (a block of at most this many has no shared sender).
    #[arg(long, default_value_t = 20_000)]
    pub accounts: usize,
    /// Fractions (0 to 1) of transactions touching one shared hot account
    /// (transfers) or hot box (pushes); comma-separated for several cases.
    #[arg(long, value_delimiter = ',', default_value = "0,0.1,0.5,1")]
    pub hot_ratio: Vec<f64>,
    /// Threads of the parallel executor.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Transactions per block.
    #[arg(long, default_value_t = 20_000)]
    pub block_txs: usize,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = ExecBenchMode::Both)]
    pub mode: ExecBenchMode,
    /// Runs of each case, sequential and parallel interleaved (which goes
    /// first alternates); the best of each is reported. The ceiling is the
    /// best of as many passes.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecWorkload {
    /// Native transfers to fresh receivers (about 2 µs of work each).
    Transfers,
    /// Messages pushed into boxes through an allow-list write gate run on
    /// the gate VM, each sender into its own box (execution only: the
    /// boxes are placed in the in-memory state, not created by blocks).
    Pushes,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecBenchMode {
    /// Execution only, on an in-memory state.
    Exec,
    /// Execution, JMT root and RocksDB commit.
    Commit,
    Both,
}

impl ExecBenchMode {
    pub fn includes_exec(self) -> bool {
        self != ExecBenchMode::Commit
    }
    pub fn includes_commit(self) -> bool {
        self != ExecBenchMode::Exec
    }
}

#[derive(Args)]
pub struct BenchTransfersArgs {
    /// Transfers to send.
    #[arg(long, default_value_t = 60_000)]
    pub txs: usize,
    /// Funded sender accounts.
    #[arg(long, default_value_t = 3_000)]
    pub accounts: usize,
    /// Milliseconds between blocks.
    #[arg(long, default_value_t = 1000)]
    pub block_time_ms: u64,
    /// Transactions per tx_submitBatch call.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Submitters running at once.
    #[arg(long, default_value_t = 2)]
    pub clients: usize,
    #[command(flatten)]
    pub exec: ExecArgs,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub conn: Conn,
}
