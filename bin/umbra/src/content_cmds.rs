//! `umbra put`, `get`, `share`, `ls`, `key`: content in PDFS.
//!
//! Keys never leave the client: `put` makes a fresh content key, encrypts
//! every block here and records the key on chain only wrapped (HPKE) to the
//! owner's own encryption key; `get` unwraps it from the reader's grant and
//! decrypts here. The node sees ciphertext.

use crate::cli::{Conn, Global};
use crate::client_cmds::{sign_next, wait_included};
use crate::election_cmds::parse_duration_ms;
use crate::http_client::Gateway;
use crate::output::emit;
use crate::progress::{Progress, human_bytes, mb_per_s};
use crate::resolve::{address, signer};
use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use futures::StreamExt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use umbra_crypto::Keypair;
use umbra_pdfs::{ContentKey, Manifest, decode_block, encode_stream, unwrap_key, wrap_key};
use umbra_rpc::RpcClient;
use umbra_types::{Address, Hash, Payload, StorageMode, encode, format_amount, parse_amount};

/// Blocks in flight at once during uploads and downloads.
const DEFAULT_CONCURRENCY: usize = 16;

/// Parses sizes like `4096`, `500MiB`, `20GiB`, `1TB`, `1.5GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"
            ));
        }
    };
    let bad = || format!("{s:?} is not a size like 500MiB or 20GiB");
    if let Some((whole, frac)) = num.split_once('.') {
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        let digits = frac.len().min(9) as u32;
        let frac: u64 = frac
            .get(..digits as usize)
            .unwrap_or("0")
            .parse()
            .map_err(|_| bad())?;
        let scale = 10u64.pow(digits);
        let f = (frac as u128 * mult as u128 / scale as u128) as u64;
        whole
            .checked_mul(mult)
            .and_then(|w| w.checked_add(f))
            .ok_or_else(bad)
    } else {
        num.parse::<u64>()
            .map_err(|_| bad())?
            .checked_mul(mult)
            .ok_or_else(bad)
    }
}

#[derive(Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The file to store.
    pub file: PathBuf,
    /// Who owns and pays: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    /// Store it unencrypted: anyone with the id can read it.
    #[arg(long)]
    pub public: bool,
    /// Copies of each block (default: 3, or fewer if fewer storage nodes
    /// are registered).
    #[arg(long)]
    pub replicas: Option<u8>,
    /// How long to keep it: 90m, 12h, 30d…
    #[arg(long, default_value = "30d")]
    pub period: String,
    /// 0 volatile … 3 keep at all costs; each step doubles the price.
    #[arg(long, default_value_t = 1)]
    pub priority: u8,
    /// Allocate it writable (costs twice as much).
    #[arg(long)]
    pub writable: bool,
    /// Most storage payment to accept, in tokens; the put stops before
    /// paying if the chain's price (RPC `storage_price`) is higher.
    /// Default: no limit.
    #[arg(long)]
    pub max_price: Option<String>,
    #[command(flatten)]
    pub xfer: Transfer,
}

#[derive(Args)]
pub struct Transfer {
    /// Blocks in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Seconds to wait for each transaction to be included.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The content id (64 hex digits).
    pub id: String,
    /// Where to write it (`-` for stdout).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Whose grant to use for encrypted content: a key file or dev:NAME.
    #[arg(long)]
    pub from: Option<String>,
    /// The content key itself (64 hex digits), instead of a grant.
    #[arg(long)]
    pub key: Option<String>,
    #[command(flatten)]
    pub xfer: Transfer,
}

#[derive(Args)]
pub struct ShareArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The content id.
    pub id: String,
    /// The reader: an address (umb1…) or dev:NAME. They must have
    /// registered an encryption key (`umbra box register-key`).
    #[arg(long)]
    pub to: String,
    /// The owner: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct LsArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Whose content: an address or dev:NAME.
    #[arg(long)]
    pub owner: String,
}

#[derive(Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The content id.
    pub id: String,
    /// Whose grant: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
}

pub(crate) fn parse_id(s: &str) -> anyhow::Result<Hash> {
    s.trim()
        .parse()
        .with_context(|| format!("{s:?} is not a content id (64 hex digits)"))
}

/// Storage fee for transactions: the call fee only (the storage price is
/// the allocation's payment, charged separately).
const MAX_TX_FEE: &str = "0.01";

/// Signs and submits `payload`, waits for its receipt, fails if the call
/// failed; returns the receipt as JSON.
pub(crate) async fn submit_and_wait(
    c: &RpcClient,
    key: &Keypair,
    payload: Payload,
    nonce: Option<u64>,
    timeout: u64,
) -> anyhow::Result<umbra_rpc::TxLookup> {
    let hash = submit(c, key, payload, nonce).await?;
    wait_succeeded(c, &hash, timeout).await
}

/// Signs and submits `payload` (at the account's next nonce counting its
/// pending transactions, unless `nonce`) without waiting; the hash.
pub(crate) async fn submit(
    c: &RpcClient,
    key: &Keypair,
    payload: Payload,
    nonce: Option<u64>,
) -> anyhow::Result<Hash> {
    let max_fee = parse_amount(MAX_TX_FEE)?;
    let tx = sign_next(c, key, payload, max_fee, nonce).await?;
    Ok(c.submit(hex::encode(encode(&tx))).await?)
}

/// Waits for a submitted transaction's receipt; fails if the call failed.
pub(crate) async fn wait_succeeded(
    c: &RpcClient,
    hash: &Hash,
    timeout: u64,
) -> anyhow::Result<umbra_rpc::TxLookup> {
    let lookup = wait_included(c, hash, Duration::from_secs(timeout)).await?;
    if let Some(r) = &lookup.receipt
        && r.status != "success"
    {
        bail!(
            "transaction {hash} failed: {}",
            r.fail_reason.clone().unwrap_or_else(|| r.status.clone())
        );
    }
    Ok(lookup)
}

/// Everything `put` needs, so the storage benchmark can drive it too.
pub struct PutOptions {
    pub rpc: String,
    pub file: PathBuf,
    pub owner: Keypair,
    pub public: bool,
    pub replicas: Option<u8>,
    pub period_ms: u64,
    pub priority: u8,
    pub writable: bool,
    pub max_price: Option<u128>,
    pub concurrency: usize,
    pub timeout: u64,
    /// Progress bars on stderr (only shown on a terminal anyway).
    pub progress: bool,
}

/// What a put did and how long each phase took.
#[derive(serde::Serialize)]
pub struct PutReport {
    pub content_id: String,
    pub size: u64,
    pub blocks: u64,
    pub public: bool,
    pub replicas: u8,
    /// Fewest copies any block got during the upload.
    pub min_replicas_placed: u64,
    /// Storage payment, `None` when resuming a paid allocation.
    pub paid: Option<String>,
    /// True when the blocks were staged on the node while they were
    /// hashed (one read of the file); false when the file was read twice.
    pub one_pass: bool,
    /// Why the node did not take a staged upload, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_pass_reason: Option<String>,
    /// Reading, encrypting and hashing the file for the manifest; in one
    /// pass, uploading it too.
    pub first_pass_seconds: f64,
    /// Allocation and grant transactions, until included.
    pub chain_seconds: f64,
    /// Getting every block to its K nodes: in one pass, the node placing
    /// the staged blocks (and any it lacked uploaded again); in two, reading
    /// and encrypting the file again while uploading it.
    pub place_seconds: f64,
    pub total_seconds: f64,
    /// Size over the total time.
    pub mb_per_s: f64,
}

pub async fn put(a: PutArgs, g: &Global) -> anyhow::Result<()> {
    let opts = PutOptions {
        rpc: a.conn.rpc.clone(),
        file: a.file.clone(),
        owner: signer(&a.from)?,
        public: a.public,
        replicas: a.replicas,
        period_ms: parse_duration_ms(&a.period).context("--period")?,
        priority: a.priority,
        writable: a.writable,
        max_price: a
            .max_price
            .as_deref()
            .map(parse_amount)
            .transpose()
            .context("--max-price")?,
        concurrency: a.xfer.concurrency,
        timeout: a.xfer.timeout,
        progress: !g.json,
    };
    let r = put_file(&opts).await?;
    emit(g.json, &r, || {
        let mut s = format!(
            "stored {}\n  {} in {} blocks, {} ({})\n  {:.2} s in all: {:.1} MB/s ({} {:.2} s, chain {:.2} s, {} {:.2} s)",
            r.content_id,
            human_bytes(r.size),
            r.blocks,
            if r.public { "public" } else { "encrypted" },
            match &r.paid {
                Some(p) => format!("paid {p} UMB for {} replicas", r.replicas),
                None => "already paid: resumed".into(),
            },
            r.total_seconds,
            r.mb_per_s,
            if r.one_pass { "upload" } else { "hashing" },
            r.first_pass_seconds,
            r.chain_seconds,
            if r.one_pass { "placing" } else { "upload" },
            r.place_seconds,
        );
        if let Some(why) = &r.two_pass_reason {
            s.push_str(&format!(
                "\n  note: the node would not stage the upload, so the file was read twice ({why})"
            ));
        }
        if r.min_replicas_placed < u64::from(r.replicas) {
            s.push_str(&format!(
                "\n  warning: some blocks have only {} of {} copies yet; storage nodes re-replicate them",
                r.min_replicas_placed, r.replicas
            ));
        }
        s
    })
}

/// Stores a file: one pass when the node stages the upload (blocks go up
/// as they are hashed, before the allocation exists), else two (hash for
/// the manifest, allocate, then encrypt again and upload).
pub async fn put_file(o: &PutOptions) -> anyhow::Result<PutReport> {
    let started = std::time::Instant::now();
    let c = RpcClient::new(&o.rpc)?;
    let gw = Gateway::new(&o.rpc)?;
    let size = std::fs::metadata(&o.file)
        .with_context(|| format!("cannot read {}", o.file.display()))?
        .len();
    let content_key = (!o.public).then(ContentKey::generate);
    let ck = || {
        content_key
            .as_ref()
            .map(|k| ContentKey::from_bytes(k.to_bytes()))
    };
    let concurrency = o.concurrency.max(1);

    let mut session = open_staging(&gw, &o.owner, size).await;
    let staged = match &session {
        Ok(token) => Some(stage_file(o, &gw, token, ck(), concurrency).await),
        Err(_) => None,
    };
    // A staged upload that fails part way (the node restarted, or dropped
    // the session) falls back to two passes; the staged blocks are
    // collected when the session times out.
    let (manifest, first_pass) = match staged {
        Some(Ok(done)) => done,
        Some(Err(e)) => {
            session = Err(e.context("staging stopped"));
            hash_file(o, ck()).await?
        }
        None => hash_file(o, ck()).await?,
    };
    let id = manifest.content_id();

    let chain_started = std::time::Instant::now();
    let (paid, replicas) = allocate(o, &c, &manifest, content_key.as_ref()).await?;
    let chain_time = chain_started.elapsed();

    let place_started = std::time::Instant::now();
    let manifest_path = match &session {
        Ok(token) => format!("/content/{id}/manifest?upload={token}"),
        Err(_) => format!("/content/{id}/manifest"),
    };
    if session.is_ok() && replicas > 1 && o.progress && std::io::stderr().is_terminal() {
        // One request, which takes as long as the copies to other nodes.
        eprintln!(
            "placing {} blocks on {replicas} nodes each…",
            manifest.block_count()
        );
    }
    let answer = gw
        .send(
            http::Method::POST,
            &manifest_path,
            Bytes::from(manifest.encode()),
        )
        .await
        .context("uploading the manifest")?;
    let min_replicas = match &session {
        Ok(_) => {
            let placed: serde_json::Value = serde_json::from_slice(&answer)
                .context("the node answered the manifest with malformed JSON")?;
            let missing: Vec<u64> = placed["missing"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
                .unwrap_or_default();
            let placed_copies = placed["replicas"].as_u64().unwrap_or(0);
            if let Some(bad) = missing.iter().find(|&&i| i >= manifest.block_count()) {
                bail!(
                    "the node says block {bad} is missing, but the content has {} blocks",
                    manifest.block_count()
                );
            }
            if missing.is_empty() {
                placed_copies
            } else {
                let again = upload_again(o, &gw, &manifest, ck(), &missing, concurrency).await?;
                if missing.len() as u64 == manifest.block_count() {
                    again
                } else {
                    placed_copies.min(again)
                }
            }
        }
        Err(_) => upload_file(o, &gw, &manifest, ck(), concurrency).await?,
    };
    let place_time = place_started.elapsed();
    let total = started.elapsed();
    Ok(PutReport {
        content_id: id.to_string(),
        size: manifest.size,
        blocks: manifest.block_count(),
        public: o.public,
        replicas,
        min_replicas_placed: min_replicas,
        paid,
        one_pass: session.is_ok(),
        two_pass_reason: session.err().map(|e| format!("{e:#}")),
        first_pass_seconds: first_pass.as_secs_f64(),
        chain_seconds: chain_time.as_secs_f64(),
        place_seconds: place_time.as_secs_f64(),
        total_seconds: total.as_secs_f64(),
        mb_per_s: mb_per_s(manifest.size, total),
    })
}

/// Asks the node for a staging session: a ticket signed by the owner, for
/// `size` bytes, bound to the node's identity and the current time.
async fn open_staging(gw: &Gateway, owner: &Keypair, size: u64) -> anyhow::Result<String> {
    let status: serde_json::Value = serde_json::from_slice(&gw.get("/uploads").await?)
        .context("malformed answer to GET /uploads")?;
    let node = status["node"]
        .as_str()
        .context("the node did not say its storage identity")?;
    let mut ticket = umbra_pdfs::StageTicket {
        owner: owner.public(),
        size,
        timestamp_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        node: node.as_bytes().to_vec(),
        signature: Default::default(),
    };
    ticket.signature = owner.sign_hash(&ticket.digest());
    let answer = gw
        .send(http::Method::POST, "/uploads", Bytes::from(ticket.encode()))
        .await?;
    let opened: serde_json::Value =
        serde_json::from_slice(&answer).context("malformed answer to /uploads")?;
    opened["token"]
        .as_str()
        .map(str::to_owned)
        .context("no session token in the answer to /uploads")
}

/// One pass: reads, encrypts and hashes the file, uploading each block to
/// the staging session as soon as it is sealed. Returns the manifest and
/// the time taken.
async fn stage_file(
    o: &PutOptions,
    gw: &Gateway,
    token: &str,
    key: Option<ContentKey>,
    concurrency: usize,
) -> anyhow::Result<(Manifest, Duration)> {
    let started = std::time::Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Hash, Vec<u8>)>(concurrency);
    let file = open(&o.file)?;
    let encoder = tokio::task::spawn_blocking(move || {
        umbra_pdfs::encode_owned(file, key.as_ref(), |i, id, stored| {
            tx.blocking_send((i, id, stored))
                .map_err(|_| umbra_pdfs::PdfsError::Sink("the upload stopped".into()))
        })
    });
    let size = std::fs::metadata(&o.file).map(|m| m.len()).unwrap_or(0);
    let mut bar = Progress::new("uploading", size, !o.progress);
    let mut uploads = tokio_stream_of(rx)
        .map(|(i, id, data)| {
            let gw = gw.clone();
            async move {
                let (len, staged) = put_json(&gw, &format!("/uploads/{token}/blocks/{id}"), data)
                    .await
                    .with_context(|| format!("staging block {i}"))?;
                if staged["block"].as_str() != Some(&id.to_string()) {
                    bail!("the node did not confirm block {i} as {id}: {staged}");
                }
                Ok::<_, anyhow::Error>(len)
            }
        })
        .buffer_unordered(concurrency);
    while let Some(r) = uploads.next().await {
        bar.add(r?.min(umbra_pdfs::BLOCK_SIZE) as u64);
    }
    drop(uploads);
    let manifest = encoder.await??;
    bar.finish();
    Ok((manifest, started.elapsed()))
}

/// First of two passes: reads, encrypts and hashes the file for its
/// manifest, uploading nothing.
async fn hash_file(
    o: &PutOptions,
    key: Option<ContentKey>,
) -> anyhow::Result<(Manifest, Duration)> {
    let size = std::fs::metadata(&o.file).map(|m| m.len()).unwrap_or(0);
    let mut bar = Progress::new("hashing", size, !o.progress);
    let file = open(&o.file)?;
    let (manifest, bar) = tokio::task::spawn_blocking(move || {
        let m = encode_stream(file, key.as_ref(), |_, _, stored| {
            bar.add(stored.len().min(umbra_pdfs::BLOCK_SIZE) as u64);
            Ok(())
        });
        (m, bar)
    })
    .await?;
    let took = bar.finish();
    Ok((manifest?, took))
}

/// Pays for the content, unless this owner already holds a live
/// allocation of it (then this run resumes an interrupted upload), and
/// records the owner's own grant. Returns the price paid, if any, and the
/// replicas asked for.
async fn allocate(
    o: &PutOptions,
    c: &RpcClient,
    manifest: &Manifest,
    content_key: Option<&ContentKey>,
) -> anyhow::Result<(Option<String>, u8)> {
    let key = &o.owner;
    let id = manifest.content_id();
    let size = manifest.size;
    let existing: Option<serde_json::Value> = c
        .call("storage_allocation", vec![id.to_string().into()])
        .await?;
    let already = existing.as_ref().is_some_and(|v| {
        v["owner"].as_str() == Some(&key.address().to_string()) && v["expired"] == false
    });
    let nodes: Vec<serde_json::Value> = c.call("storage_nodes", vec![]).await?;
    if nodes.is_empty() {
        bail!("no storage node is registered on this chain yet (start a node with --storage DIR)");
    }
    let replicas = o.replicas.unwrap_or(3.min(nodes.len()) as u8).max(1);
    let mut paid = None;
    // The allocation and the owner's grant go out together and are awaited
    // together: the grant's nonce follows the allocation's, so it executes
    // after it, usually in the same block, and the upload waits one block
    // instead of two.
    let mut pending = Vec::new();
    if !already {
        let price: serde_json::Value = c
            .call(
                "storage_price",
                vec![serde_json::json!({
                    "size": size,
                    "replicas": replicas,
                    "priority": o.priority,
                    "mode": if o.writable { "writable" } else { "read-only" },
                    "period_ms": o.period_ms,
                })],
            )
            .await?;
        let price_units: u128 = price["price"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .context("the node returned a malformed storage price")?;
        let price_str = format_amount(price_units);
        if let Some(max) = o.max_price
            && price_units > max
        {
            bail!("storage costs {price_str} UMB, over --max-price");
        }
        let alloc = Payload::StorageAlloc {
            content_id: id,
            size,
            blocks: manifest.block_count(),
            replicas,
            priority: o.priority,
            mode: if o.writable {
                StorageMode::Writable
            } else {
                StorageMode::ReadOnly
            },
            period_ms: o.period_ms,
            public: o.public,
        };
        pending.push(submit(c, key, alloc, None).await?);
        paid = Some(price_str);
    }
    if let Some(ck) = content_key {
        // The owner's own grant: how `get` on any machine finds the key.
        let wrapped = wrap_key(ck, &key.encryption_keypair().public(), &id)?;
        let grant = Payload::StorageGrant {
            content_id: id,
            reader: key.address(),
            wrapped_key: wrapped,
        };
        pending.push(submit(c, key, grant, None).await?);
    }
    for hash in &pending {
        wait_succeeded(c, hash, o.timeout).await?;
    }
    Ok((paid, replicas))
}

/// Second of two passes: encrypts the file again and uploads every block,
/// `concurrency` in flight. Returns the fewest copies any block got.
async fn upload_file(
    o: &PutOptions,
    gw: &Gateway,
    manifest: &Manifest,
    key: Option<ContentKey>,
    concurrency: usize,
) -> anyhow::Result<u64> {
    let id = manifest.content_id();
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Vec<u8>)>(concurrency);
    let file = open(&o.file)?;
    let encoder = tokio::task::spawn_blocking(move || {
        umbra_pdfs::seal_stream(file, key.as_ref(), |i, stored| {
            tx.blocking_send((i, stored))
                .map_err(|_| umbra_pdfs::PdfsError::Sink("the upload stopped".into()))
        })
    });
    let mut bar = Progress::new("uploading", manifest.size, !o.progress);
    let uploads = tokio_stream_of(rx)
        .map(|(i, data)| put_block(gw, id, i, data))
        .buffer_unordered(concurrency);
    let copies = fewest_copies(uploads, &mut bar).await?;
    let sealed = encoder.await??;
    if sealed != manifest.size {
        bail!(
            "{} changed while it was being stored ({} bytes, then {sealed})",
            o.file.display(),
            manifest.size
        );
    }
    bar.finish();
    Ok(copies)
}

/// Awaits block uploads (each giving its length and the copies placed),
/// advancing `bar`; returns the fewest copies any block got (0 for none).
async fn fewest_copies(
    uploads: impl futures::Stream<Item = anyhow::Result<(usize, u64)>>,
    bar: &mut Progress,
) -> anyhow::Result<u64> {
    let mut uploads = std::pin::pin!(uploads);
    let mut fewest = None::<u64>;
    while let Some(r) = uploads.next().await {
        let (len, copies) = r?;
        fewest = Some(fewest.map_or(copies, |f| f.min(copies)));
        bar.add(len.min(umbra_pdfs::BLOCK_SIZE) as u64);
    }
    Ok(fewest.unwrap_or(0))
}

/// Uploads the listed blocks the ordinary way, read and encrypted again
/// from the file: the ones a staged upload's node did not hold. Returns
/// the fewest copies any of them got.
async fn upload_again(
    o: &PutOptions,
    gw: &Gateway,
    manifest: &Manifest,
    key: Option<ContentKey>,
    indexes: &[u64],
    concurrency: usize,
) -> anyhow::Result<u64> {
    let id = manifest.content_id();
    let key = std::sync::Arc::new(key);
    let blocks = manifest.block_count();
    let size = manifest.size;
    let path = o.file.clone();
    let bytes = indexes.len() as u64 * umbra_pdfs::BLOCK_SIZE as u64;
    let mut bar = Progress::new("uploading", bytes.min(size), !o.progress);
    let uploads = futures::stream::iter(indexes.iter().copied())
        .map(|i| {
            let (key, path) = (key.clone(), path.clone());
            async move {
                let data = tokio::task::spawn_blocking(move || {
                    read_sealed_block(&path, key.as_ref().as_ref(), i, blocks, size)
                })
                .await??;
                put_block(gw, id, i, data).await
            }
        })
        .buffer_unordered(concurrency);
    let copies = fewest_copies(uploads, &mut bar).await?;
    bar.finish();
    Ok(copies)
}

/// Block `i` of the file as stored: read at its offset and sealed.
fn read_sealed_block(
    path: &Path,
    key: Option<&ContentKey>,
    i: u64,
    blocks: u64,
    size: u64,
) -> anyhow::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let block = umbra_pdfs::BLOCK_SIZE as u64;
    let start = i * block;
    let len = size.saturating_sub(start).min(block) as usize;
    let mut plain = vec![0u8; len];
    let mut f = open(path)?;
    f.seek(SeekFrom::Start(start))?;
    f.read_exact(&mut plain)
        .with_context(|| format!("{} changed while it was being stored", path.display()))?;
    Ok(match key {
        Some(k) => umbra_pdfs::seal_block(k, i, i + 1 == blocks, &plain)?,
        None => plain,
    })
}

/// PUTs block `i` of content `id`; returns its length and the copies the
/// node reports.
async fn put_block(gw: &Gateway, id: Hash, i: u64, data: Vec<u8>) -> anyhow::Result<(usize, u64)> {
    let (len, placed) = put_json(gw, &format!("/content/{id}/blocks/{i}"), data)
        .await
        .with_context(|| format!("uploading block {i}"))?;
    Ok((len, placed["replicas"].as_u64().unwrap_or(0)))
}

/// PUTs a block to `path`; returns its length and the gateway's JSON
/// answer (null if the answer is not JSON).
async fn put_json(
    gw: &Gateway,
    path: &str,
    data: Vec<u8>,
) -> anyhow::Result<(usize, serde_json::Value)> {
    let len = data.len();
    let r = gw.send(http::Method::PUT, path, Bytes::from(data)).await?;
    Ok((len, serde_json::from_slice(&r).unwrap_or_default()))
}

/// The file to store, unbuffered: the encoders read it a whole 256 KiB
/// block at a time, so a `BufReader` would only copy every byte once more.
fn open(p: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The content key for `id` from `reader`'s grant on chain.
pub(crate) async fn key_from_grant(
    c: &RpcClient,
    id: &Hash,
    reader: &Keypair,
) -> anyhow::Result<ContentKey> {
    let grant: Option<serde_json::Value> = c
        .call(
            "storage_grant",
            vec![id.to_string().into(), reader.address().to_string().into()],
        )
        .await?;
    let Some(grant) = grant else {
        bail!(
            "{} holds no grant for {id}: ask its owner to `umbra share` it",
            reader.address()
        );
    };
    let wrapped = grant["wrapped_key"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .context("the node returned a malformed grant")?;
    unwrap_key(&reader.encryption_keypair(), id, &wrapped)
        .context("cannot unwrap the content key from the grant")
}

fn parse_key(s: &str) -> anyhow::Result<ContentKey> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut b).context("--key must be 64 hex digits")?;
    Ok(ContentKey::from_bytes(b))
}

/// What a get did.
#[derive(serde::Serialize)]
pub struct GetReport {
    pub content_id: String,
    pub size: u64,
    pub blocks: u64,
    pub output: PathBuf,
    pub seconds: f64,
    pub mb_per_s: f64,
}

/// Whose key opens the content.
pub enum Opener {
    Grant(Box<Keypair>),
    Key(ContentKey),
    Nothing,
}

pub async fn get(a: GetArgs, g: &Global) -> anyhow::Result<()> {
    let opener = match (&a.key, &a.from) {
        (Some(k), _) => Opener::Key(parse_key(k)?),
        (None, Some(from)) => Opener::Grant(Box::new(signer(from)?)),
        (None, None) => Opener::Nothing,
    };
    let id = parse_id(&a.id)?;
    let to_stdout = a.output.as_os_str() == "-";
    let r = get_content(
        &a.conn.rpc,
        &id,
        opener,
        &a.output,
        a.xfer.concurrency,
        !g.json && !to_stdout,
    )
    .await?;
    if to_stdout {
        return Ok(());
    }
    emit(g.json, &r, || {
        format!(
            "wrote {} ({}) in {:.2} s: {:.1} MB/s",
            r.output.display(),
            human_bytes(r.size),
            r.seconds,
            r.mb_per_s
        )
    })
}

/// Fetches content `id` into `output` (`-`: stdout), checking every block.
pub async fn get_content(
    rpc: &str,
    id: &Hash,
    opener: Opener,
    output: &Path,
    concurrency: usize,
    progress: bool,
) -> anyhow::Result<GetReport> {
    let id = *id;
    let c = RpcClient::new(rpc)?;
    let gw = Gateway::new(rpc)?;
    let manifest = Manifest::decode(&gw.get(&format!("/content/{id}/manifest")).await?)
        .context("the node sent a malformed manifest")?;
    if manifest.content_id() != id {
        bail!("the node sent a manifest of other content");
    }
    let key = match (manifest.scheme, opener) {
        (umbra_pdfs::Scheme::Public, _) => None,
        (_, Opener::Key(k)) => Some(k),
        (_, Opener::Grant(reader)) => Some(key_from_grant(&c, &id, &reader).await?),
        (_, Opener::Nothing) => {
            bail!("{id} is encrypted: pass --from (your key, to use your grant) or --key")
        }
    };
    let to_stdout = output.as_os_str() == "-";
    let part = output.with_extension(match output.extension() {
        Some(e) => format!("{}.part", e.to_string_lossy()),
        None => "part".into(),
    });
    let mut out: Box<dyn Write + Send> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&part)
                .with_context(|| format!("cannot create {}", part.display()))?,
        ))
    };
    let manifest = std::sync::Arc::new(manifest);
    let key = key.map(std::sync::Arc::new);
    let mut bar = Progress::new("fetching", manifest.size, !progress);
    let started = std::time::Instant::now();
    let mut blocks = futures::stream::iter(0..manifest.block_count())
        .map(|i| {
            let (gw, manifest, key) = (gw.clone(), manifest.clone(), key.clone());
            async move {
                let stored = gw
                    .get(&format!("/content/{id}/blocks/{i}"))
                    .await
                    .with_context(|| format!("fetching block {i}"))?;
                // Hash check and decryption off the async threads.
                tokio::task::spawn_blocking(move || {
                    decode_block(&manifest, key.as_deref(), i, &stored)
                        .with_context(|| format!("block {i}"))
                })
                .await?
            }
        })
        .buffered(concurrency.max(1));
    while let Some(plain) = blocks.next().await {
        let plain = plain?;
        out.write_all(&plain).context("writing the output")?;
        bar.add(plain.len() as u64);
    }
    out.flush().context("writing the output")?;
    drop(out);
    let took = started.elapsed();
    bar.finish();
    if !to_stdout {
        std::fs::rename(&part, output)
            .with_context(|| format!("cannot move {} to {}", part.display(), output.display()))?;
    }
    Ok(GetReport {
        content_id: id.to_string(),
        size: manifest.size,
        blocks: manifest.block_count(),
        output: output.to_path_buf(),
        seconds: took.as_secs_f64(),
        mb_per_s: mb_per_s(manifest.size, took),
    })
}

pub async fn share(a: ShareArgs, g: &Global) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let owner = signer(&a.from)?;
    let to = address(&a.to)?;
    let c = RpcClient::new(&a.conn.rpc)?;
    let content_key = key_from_grant(&c, &id, &owner).await?;
    let reader_key = encryption_key_of(&c, &to).await?;
    let wrapped = wrap_key(&content_key, &reader_key, &id)?;
    let lookup = submit_and_wait(
        &c,
        &owner,
        Payload::StorageGrant {
            content_id: id,
            reader: to,
            wrapped_key: wrapped,
        },
        None,
        a.timeout,
    )
    .await?;
    let v = serde_json::json!({
        "content_id": id.to_string(),
        "reader": to.to_string(),
        "tx": lookup.tx.hash,
    });
    emit(g.json, &v, || format!("shared {id} with {to}"))
}

pub(crate) async fn encryption_key_of(c: &RpcClient, who: &Address) -> anyhow::Result<[u8; 32]> {
    let key: Option<String> = c
        .call("state_encryptionKey", vec![who.to_string().into()])
        .await?;
    let Some(key) = key else {
        bail!("{who} has not registered an encryption key (they run `umbra box register-key`)");
    };
    hex::decode(&key)
        .ok()
        .and_then(|v| v.try_into().ok())
        .context("the node returned a malformed encryption key")
}

pub async fn ls(a: LsArgs, g: &Global) -> anyhow::Result<()> {
    let who = address(&a.owner)?;
    let c = RpcClient::new(&a.conn.rpc)?;
    let owned: Vec<serde_json::Value> =
        c.call("storage_list", vec![who.to_string().into()]).await?;
    let shared: Vec<serde_json::Value> = c
        .call("storage_grants", vec![who.to_string().into()])
        .await?;
    let shared: Vec<&serde_json::Value> = shared
        .iter()
        .filter(|gr| gr["owner"].as_str() != Some(&who.to_string()))
        .collect();
    let v = serde_json::json!({ "owned": owned, "shared_with_me": shared });
    emit(g.json, &v, || {
        let mut s = String::new();
        if owned.is_empty() {
            s.push_str("no content owned\n");
        } else {
            s.push_str("owned:\n");
            for o in &owned {
                s.push_str(&format!(
                    "  {}  {:>10}  {}x  {}{}\n",
                    o["content_id"].as_str().unwrap_or("?"),
                    o["size"].as_u64().map(human_bytes).unwrap_or_default(),
                    o["replicas"].as_u64().unwrap_or(0),
                    if o["public"] == true {
                        "public"
                    } else {
                        "encrypted"
                    },
                    if o["expired"] == true {
                        "  EXPIRED"
                    } else {
                        ""
                    },
                ));
            }
        }
        if !shared.is_empty() {
            s.push_str("shared with me:\n");
            for gr in &shared {
                s.push_str(&format!(
                    "  {}  from {}\n",
                    gr["content_id"].as_str().unwrap_or("?"),
                    gr["owner"].as_str().unwrap_or("?"),
                ));
            }
        }
        s.trim_end().to_owned()
    })
}

pub async fn key(a: KeyArgs, g: &Global) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let reader = signer(&a.from)?;
    let c = RpcClient::new(&a.conn.rpc)?;
    let k = key_from_grant(&c, &id, &reader).await?;
    let hex_key = hex::encode(k.to_bytes());
    let url = Gateway::new(&a.conn.rpc)?.url(&format!("/content/{id}?key={hex_key}"));
    let v = serde_json::json!({ "content_id": id.to_string(), "key": hex_key, "url": url });
    emit(g.json, &v, || {
        format!("key: {hex_key}\nstream: {url}\n(anyone with this key can read the content)")
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_size, read_sealed_block};
    use umbra_pdfs::{BLOCK_SIZE, ContentKey, encode_stream};

    /// A block uploaded again on its own (one a staged upload's node lost)
    /// is exactly the block the whole-file encoder made.
    #[test]
    fn a_block_read_again_is_the_encoded_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..2 * BLOCK_SIZE + 5)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let key = ContentKey::from_bytes([9; 32]);
        for k in [Some(&key), None] {
            let mut blocks = Vec::new();
            let m = encode_stream(&data[..], k, |_, _, b| {
                blocks.push(b.to_vec());
                Ok(())
            })
            .unwrap();
            for (i, b) in blocks.iter().enumerate() {
                let again = read_sealed_block(&path, k, i as u64, m.block_count(), m.size).unwrap();
                assert_eq!(&again, b, "block {i}");
            }
        }
        // A file that shrank since is an error, not a short block.
        std::fs::write(&path, &data[..BLOCK_SIZE]).unwrap();
        assert!(read_sealed_block(&path, None, 2, 3, data.len() as u64).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("500MiB"), Ok(500 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }
}
