//! Arguments of `umbra box …` and `umbra gate …`.

use crate::cli::Conn;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Content hubs: create boxes, set their gates, push and pull messages.
#[derive(Subcommand)]
pub enum BoxCmd {
    /// Create a box owned by the signer (costs the creation fee).
    Create {
        /// Box name: 3-32 of a-z, 0-9 and _, not starting with a digit.
        name: String,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Set, replace or clear one of a box's gates (owner only).
    Gate(GateSetArgs),
    /// Push a message into a box, through its write gate.
    Push(PushArgs),
    /// Pull (read) a message through the box's read gate, paying what it
    /// charges, and print it.
    Pull(PullArgs),
    /// List boxes: all of them in creation order, or one owner's.
    Ls(LsArgs),
    /// Show a box: owner, message count, gates and their gas bounds.
    Info {
        name: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Read a box's messages (a page at a time) without running its gate.
    Messages(MessagesArgs),
    /// What reading or writing would cost a caller, before doing it.
    Inspect(InspectArgs),
    /// Print new messages of a box as they arrive (WebSocket subscription).
    Watch(WatchArgs),
    /// Add an address to a box's allow-list, or remove it (owner only).
    Allow(AllowArgs),
    /// Delete a message (owner only).
    Delete {
        name: String,
        index: u64,
        #[command(flatten)]
        tx: TxOpts,
    },
    /// Register the signer's X25519 encryption key, so others can encrypt
    /// messages to it (`box push --encrypt-to`).
    RegisterKey {
        #[command(flatten)]
        tx: TxOpts,
    },
}

/// Signing, fees and waiting, shared by every command that sends a call.
#[derive(Args, Clone)]
pub struct TxOpts {
    #[command(flatten)]
    pub conn: Conn,
    /// Signer: dev:NAME or a key file.
    #[arg(long)]
    pub from: String,
    /// Most the signer agrees to pay in fees (tokens). Gate gas is added
    /// automatically from the gate's bound.
    #[arg(long, default_value = "0.01")]
    pub max_fee: String,
    /// Submit and return without waiting for the block.
    #[arg(long)]
    pub no_wait: bool,
    /// Seconds to wait for inclusion.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct GateSetArgs {
    pub name: String,
    /// Which gate: read, write or inspect.
    #[arg(long, default_value = "write")]
    pub kind: String,
    /// A `.gate` assembly file.
    #[arg(long, conflicts_with_all = ["template", "clear"])]
    pub file: Option<PathBuf>,
    /// A ready-made gate: anyone, nobody, owner-only, owner-or-listed,
    /// listed-only, pay-per-access, pay-once, subscription, pay-and-join,
    /// autoresponder.
    #[arg(long, conflicts_with = "clear")]
    pub template: Option<String>,
    /// Price for paying templates (tokens).
    #[arg(long)]
    pub price: Option<String>,
    /// Subscription period for `subscription`, in seconds.
    #[arg(long)]
    pub period_secs: Option<u64>,
    /// Outbox for `autoresponder` (a box the same owner owns).
    #[arg(long)]
    pub outbox: Option<String>,
    /// Reply text for `autoresponder`.
    #[arg(long)]
    pub reply: Option<String>,
    /// Remove the gate (back to the default rule).
    #[arg(long)]
    pub clear: bool,
    #[command(flatten)]
    pub tx: TxOpts,
}

#[derive(Args)]
pub struct PushArgs {
    pub name: String,
    /// The message as text.
    #[arg(long, conflicts_with_all = ["file", "hex"])]
    pub text: Option<String>,
    /// The message from a file.
    #[arg(long, conflicts_with = "hex")]
    pub file: Option<PathBuf>,
    /// The message as hex bytes.
    #[arg(long)]
    pub hex: Option<String>,
    /// Encrypt the message to this account's registered X25519 key (HPKE),
    /// so only it can read the body. Everything else stays public.
    #[arg(long)]
    pub encrypt_to: Option<String>,
    #[command(flatten)]
    pub tx: TxOpts,
}

#[derive(Args)]
pub struct PullArgs {
    pub name: String,
    /// Message index (default: the latest).
    #[arg(long)]
    pub index: Option<u64>,
    /// Decrypt a message encrypted to the signer.
    #[arg(long)]
    pub decrypt: bool,
    #[command(flatten)]
    pub tx: TxOpts,
}

#[derive(Args)]
pub struct LsArgs {
    /// Only boxes of this owner (dev:NAME or umb1…).
    #[arg(long)]
    pub owner: Option<String>,
    /// First box id (for paging).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args)]
pub struct MessagesArgs {
    pub name: String,
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args)]
pub struct InspectArgs {
    pub name: String,
    /// Who would read or write (dev:NAME or umb1…); default: nobody in
    /// particular (the zero address).
    #[arg(long)]
    pub caller: Option<String>,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args)]
pub struct WatchArgs {
    pub name: String,
    /// Exit after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long)]
    pub timeout: Option<u64>,
    #[command(flatten)]
    pub conn: Conn,
}

#[derive(Args)]
pub struct AllowArgs {
    pub name: String,
    /// The address to add or remove (dev:NAME or umb1…).
    pub address: String,
    /// Remove instead of add.
    #[arg(long)]
    pub remove: bool,
    #[command(flatten)]
    pub tx: TxOpts,
}

/// Gate scripts: assemble, disassemble and check `.gate` files.
#[derive(Subcommand)]
pub enum GateCmd {
    /// Assemble a `.gate` file into bytecode (hex on stdout, or --out).
    Asm {
        file: PathBuf,
        /// Write raw bytecode here instead of printing hex.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Disassemble bytecode (a file of raw bytes or hex) into `.gate` text.
    Disasm { file: PathBuf },
    /// Check a `.gate` file: print its gas bound, or its errors with line
    /// numbers.
    Check { file: PathBuf },
}
