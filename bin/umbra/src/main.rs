//! `umbra`: the node, the devnet and the command-line client in one binary.
//! Thin by design: argument parsing and printing here, everything else in the
//! crates under `crates/`.

mod bench;
mod bench_exec;
mod bench_gates;
mod bench_machine;
mod bench_net;
mod bench_storage;
mod box_cmds;
mod cli;
mod cli_box;
mod client_cmds;
mod content_cmds;
mod election_cmds;
mod gate_cmds;
mod http_client;
mod keys_cmd;
mod output;
mod progress;
mod resolve;
mod run_node;
mod sale_cmds;
mod storage_cmds;
mod testnet;

use clap::Parser;

// Execution allocates many small, short-lived buffers on several threads at
// once; glibc's allocator serialises much of that, mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let json = cli.global.json;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    if let Err(e) = result {
        output::print_error(&e, json);
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = cli.global;
    match cli.command {
        Command::Devnet(a) => run_node::devnet(a, &g).await,
        Command::Node(a) => run_node::node(a, &g).await,
        Command::Testnet(a) => testnet::testnet(a).await,
        Command::Keys(a) => keys_cmd::keys(a, &g),
        Command::Transfer(a) => client_cmds::transfer(a, &g).await,
        Command::Balance(a) => client_cmds::balance(a, &g).await,
        Command::Block(a) => client_cmds::block(a, &g).await,
        Command::Tx(a) => client_cmds::tx(a, &g).await,
        Command::Status(a) => client_cmds::status(a, &g).await,
        Command::Box(a) => box_cmds::run(a, &g).await,
        Command::Gate(a) => gate_cmds::run(a, &g),
        Command::Election(a) => election_cmds::run(a, &g).await,
        Command::Bench(a) => bench::bench(a, &g).await,
        Command::Put(a) => content_cmds::put(a, &g).await,
        Command::Get(a) => content_cmds::get(a, &g).await,
        Command::Share(a) => content_cmds::share(a, &g).await,
        Command::Ls(a) => content_cmds::ls(a, &g).await,
        Command::Key(a) => content_cmds::key(a, &g).await,
        Command::Renew(a) => storage_cmds::renew(a, &g).await,
        Command::Collect(a) => storage_cmds::collect(a, &g).await,
        Command::Sell(a) => sale_cmds::sell(a, &g).await,
        Command::Buy(a) => sale_cmds::buy(a, &g).await,
        Command::Fulfil(a) => sale_cmds::fulfil(a, &g).await,
    }
}
