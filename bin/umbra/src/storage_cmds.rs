//! `umbra renew` and `umbra collect`: keeping stored content alive, and
//! clearing expired allocations off the chain.

use crate::cli::{Conn, Global};
use crate::content_cmds::{parse_id, submit_and_wait};
use crate::election_cmds::parse_duration_ms;
use crate::output::emit;
use crate::resolve::signer;
use anyhow::{Context, bail};
use clap::Args;
use umbra_types::{Hash, Payload, format_amount, parse_amount};

#[derive(Args)]
pub struct RenewArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The content id.
    pub id: String,
    /// How much longer to keep it, from its expiry (or from now, if it has
    /// already expired): e.g. 30d, 12h.
    #[arg(long)]
    pub period: String,
    /// Who pays: a key file or dev:NAME (anyone may renew).
    #[arg(long)]
    pub from: String,
    /// Most to pay, in tokens; stops before paying if the price is higher.
    #[arg(long)]
    pub max_price: Option<String>,
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct CollectArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The content id of an expired allocation.
    pub id: String,
    /// Who sends the call: a key file or dev:NAME (anyone may).
    #[arg(long)]
    pub from: String,
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

async fn allocation(c: &umbra_rpc::RpcClient, id: &Hash) -> anyhow::Result<serde_json::Value> {
    let alloc: Option<serde_json::Value> = c
        .call("storage_allocation", vec![id.to_string().into()])
        .await?;
    alloc.with_context(|| format!("{id} has no allocation on this chain"))
}

pub async fn renew(a: RenewArgs, g: &Global) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let payer = signer(&a.from)?;
    let period_ms = parse_duration_ms(&a.period).context("--period")?;
    let c = umbra_rpc::RpcClient::new(&a.conn.rpc)?;
    let before = allocation(&c, &id).await?;
    let quote: serde_json::Value = c
        .call(
            "storage_price",
            vec![serde_json::json!({
                "size": before["size"],
                "replicas": before["replicas"],
                "priority": before["priority"],
                "mode": before["mode"],
                "period_ms": period_ms,
            })],
        )
        .await?;
    let price: u128 = quote["price"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .context("the node returned a malformed storage price")?;
    if let Some(max) = &a.max_price
        && price > parse_amount(max).context("--max-price")?
    {
        bail!(
            "renewing costs {} UMB, over --max-price",
            format_amount(price)
        );
    }
    let renew = Payload::StorageRenew {
        content_id: id,
        period_ms,
    };
    let lookup = submit_and_wait(&c, &payer, renew, None, a.timeout).await?;
    let after = allocation(&c, &id).await?;
    let v = serde_json::json!({
        "content_id": id.to_string(),
        "price": price.to_string(),
        "expires_ms": after["expires_ms"],
        "previous_expires_ms": before["expires_ms"],
        "tx": lookup.tx.hash.to_string(),
    });
    emit(g.json, &v, || {
        format!(
            "renewed {id} for {} UMB; it now expires at {} ms (block time)",
            format_amount(price),
            after["expires_ms"]
        )
    })
}

pub async fn collect(a: CollectArgs, g: &Global) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let sender = signer(&a.from)?;
    let c = umbra_rpc::RpcClient::new(&a.conn.rpc)?;
    let alloc = allocation(&c, &id).await?;
    if alloc["expired"] != true {
        bail!(
            "{id} is live until {} ms (block time); only expired content can be collected",
            alloc["expires_ms"]
        );
    }
    let lookup = submit_and_wait(
        &c,
        &sender,
        Payload::StorageCollect { content_id: id },
        None,
        a.timeout,
    )
    .await?;
    let v = serde_json::json!({ "content_id": id.to_string(), "tx": lookup.tx.hash.to_string() });
    emit(g.json, &v, || {
        format!("collected {id}: its allocation and grants are gone")
    })
}
