//! `umbra sell`, `umbra buy`, `umbra fulfil`: selling encrypted content
//! through a box (the digital-commerce flow of the Phantasma seed, §4.3).
//!
//! The seller's shop is a box that lists the content (a `link` message from
//! the owner) and whose write gate is `pay-once(price)`: writing an order
//! into it costs the price the first time, and nothing once paid. The
//! payment therefore happens on chain, by the gate, before anything else.
//! The key stays with the seller: `fulfil` (run whenever the seller likes, or
//! left running with `--watch`) reads the orders, asks the chain whether each
//! buyer has paid (the gate's own quote for them is zero), wraps the content
//! key to the buyer's registered encryption key as an on-chain grant, and
//! deletes the order. Nobody but the owner ever holds the content key, and a
//! buyer who paid can order again for free until the grant arrives.

use crate::cli::{Conn, Global};
use crate::content_cmds::{encryption_key_of, key_from_grant, parse_id, submit_and_wait};
use crate::output::emit;
use crate::resolve::signer;
use anyhow::{Context, bail};
use clap::Args;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use umbra_crypto::Keypair;
use umbra_pdfs::wrap_key;
use umbra_rpc::{BoxView, ErrorCode, InspectView, MessageView, MessagesPage, RpcClient};
use umbra_types::{Address, Hash, MessageBody, Payload, format_amount, parse_amount};

/// What an order message says: `order <content id>`.
const ORDER_PREFIX: &str = "order ";
/// Messages read per `box_messages` call.
const PAGE: u64 = 100;

#[derive(Args)]
pub struct SellArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The content id (yours, encrypted, allocated and unexpired).
    pub id: String,
    /// What a buyer pays, in tokens (once; 95 % reaches you, 5 % the pool).
    #[arg(long)]
    pub price: String,
    /// The owner: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    /// The shop box (default: `shop_` and the first 12 hex digits of the id).
    #[arg(long = "box")]
    pub box_name: Option<String>,
    /// Seconds to wait for each transaction.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct BuyArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The seller's shop box.
    #[arg(value_name = "BOX")]
    pub box_name: String,
    /// The buyer: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    /// Most you agree to pay, in tokens (default: whatever the gate asks).
    #[arg(long)]
    pub max_price: Option<String>,
    /// Seconds to wait for the seller's grant after paying (0: do not wait).
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
    /// Seconds to wait for each transaction.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Args)]
pub struct FulfilArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The shop box.
    #[arg(value_name = "BOX")]
    pub box_name: String,
    /// The owner: a key file or dev:NAME.
    #[arg(long)]
    pub from: String,
    /// Keep serving orders as they arrive (until interrupted).
    #[arg(long)]
    pub watch: bool,
    /// Seconds between looks at the box with --watch.
    #[arg(long, default_value_t = 2)]
    pub interval: u64,
    /// Seconds to wait for each transaction.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn default_box(id: &Hash) -> String {
    format!("shop_{}", &id.to_hex()[..12])
}

/// The box, or `None` if there is no box of that name.
async fn box_info(c: &RpcClient, name: &str) -> anyhow::Result<Option<BoxView>> {
    match c.call::<BoxView>("box_info", vec![name.into()]).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.code() == Some(ErrorCode::BoxNotFound.code()) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Most messages read from a box in one go: a buyer who has paid once may
/// write more orders for the price of the fee alone, so a box can grow
/// without bound. `fulfil` deletes what it serves, so the rest come into
/// view in later passes.
const MAX_SCAN: u64 = 2_000;

/// The box's oldest messages (at most [`MAX_SCAN`]), oldest first.
async fn first_messages(c: &RpcClient, name: &str) -> anyhow::Result<Vec<MessageView>> {
    let mut out: Vec<MessageView> = Vec::new();
    let mut from = 0u64;
    while (out.len() as u64) < MAX_SCAN {
        let page: MessagesPage = c
            .call("box_messages", vec![name.into(), from.into(), PAGE.into()])
            .await?;
        out.extend(page.messages);
        match page.next {
            Some(n) if n > from => from = n,
            _ => break,
        }
    }
    out.truncate(MAX_SCAN as usize);
    Ok(out)
}

/// The content a shop sells: the ids its owner linked in it.
fn listings(info: &BoxView, messages: &[MessageView]) -> BTreeSet<Hash> {
    messages
        .iter()
        .filter(|m| m.from == info.owner && m.kind == "link")
        .filter_map(|m| m.content_id)
        .collect()
}

/// The content an order message asks for.
fn ordered(m: &MessageView) -> Option<Hash> {
    m.text
        .as_deref()?
        .strip_prefix(ORDER_PREFIX)?
        .trim()
        .parse()
        .ok()
}

/// What the box's write gate would charge `who` now (base units), if it
/// lets them write at all.
async fn write_quote(c: &RpcClient, name: &str, who: &Address) -> anyhow::Result<Option<u128>> {
    let v: InspectView = c
        .call("box_inspect", vec![name.into(), who.to_bech32().into()])
        .await?;
    if !v.allowed {
        return Ok(None);
    }
    let Some(gate) = v.gates.iter().find(|g| g.kind == "write") else {
        // No write gate: the default rule applies and nothing is charged.
        return Ok(Some(0));
    };
    if !gate.allowed {
        return Ok(None);
    }
    Ok(Some(
        gate.token_cost
            .parse()
            .context("the node returned a malformed gate quote")?,
    ))
}

async fn has_grant(c: &RpcClient, id: &Hash, reader: &Address) -> anyhow::Result<bool> {
    let g: Option<serde_json::Value> = c
        .call(
            "storage_grant",
            vec![id.to_string().into(), reader.to_string().into()],
        )
        .await?;
    Ok(g.is_some())
}

pub async fn sell(a: SellArgs, g: &Global) -> anyhow::Result<()> {
    let id = parse_id(&a.id)?;
    let owner = signer(&a.from)?;
    let price = parse_amount(&a.price).context("--price")?;
    let c = RpcClient::new(&a.conn.rpc)?;
    let alloc: Option<serde_json::Value> = c
        .call("storage_allocation", vec![id.to_string().into()])
        .await?;
    let Some(alloc) = alloc else {
        bail!("{id} is not stored on this chain (`umbra put` it first)");
    };
    if alloc["owner"].as_str() != Some(&owner.address().to_string()) {
        bail!(
            "{id} belongs to {}, not to {}",
            alloc["owner"],
            owner.address()
        );
    }
    if alloc["expired"] == true {
        bail!("{id} has expired; renew it before selling it");
    }
    if alloc["public"] == true {
        bail!("{id} is public: anyone can already read it, there is no key to sell");
    }
    let size = alloc["size"].as_u64().unwrap_or(0);
    // Fail now, not at the first order, if the owner cannot wrap the key.
    key_from_grant(&c, &id, &owner).await?;

    let name = a.box_name.clone().unwrap_or_else(|| default_box(&id));
    let mut created = false;
    let listed = match box_info(&c, &name).await? {
        Some(info) => {
            if info.owner != owner.address() {
                bail!(
                    "box `{name}` belongs to {}; pick another with --box",
                    info.owner
                );
            }
            let listed = listings(&info, &first_messages(&c, &name).await?);
            if let Some(other) = listed.iter().find(|l| **l != id) {
                bail!(
                    "box `{name}` already sells {other}; one content per shop (pick another with --box)"
                );
            }
            !listed.is_empty()
        }
        None => {
            let create = Payload::BoxCreate { name: name.clone() };
            submit_and_wait(&c, &owner, create, None, a.timeout).await?;
            created = true;
            false
        }
    };
    let gate = umbra_sdk::gates::pay_once(price)
        .map_err(|e| anyhow::anyhow!("building the pay-once gate: {e}"))?;
    let set_gate = Payload::BoxSetGate {
        name: name.clone(),
        kind: umbra_types::GateKind::Write,
        code: gate,
    };
    submit_and_wait(&c, &owner, set_gate, None, a.timeout).await?;
    if !listed {
        let listing = Payload::BoxPush {
            name: name.clone(),
            body: MessageBody::Link {
                content_id: id,
                size,
            },
        };
        submit_and_wait(&c, &owner, listing, None, a.timeout).await?;
    }
    let v = serde_json::json!({
        "box": name,
        "content_id": id.to_string(),
        "price": price.to_string(),
        "owner": owner.address().to_string(),
        "created": created,
    });
    emit(g.json, &v, || {
        format!(
            "{id} is for sale in box `{name}` at {} UMB\n  buyers run: umbra buy {name} --from THEIR_KEY\n  you run:    umbra fulfil {name} --from {} --watch",
            format_amount(price),
            a.from
        )
    })
}

pub async fn buy(a: BuyArgs, g: &Global) -> anyhow::Result<()> {
    let buyer = signer(&a.from)?;
    let me = buyer.address();
    let c = RpcClient::new(&a.conn.rpc)?;
    let name = a.box_name.clone();
    let Some(info) = box_info(&c, &name).await? else {
        bail!("there is no box named `{name}`");
    };
    let listed = listings(&info, &first_messages(&c, &name).await?);
    let mut listed = listed.into_iter();
    let id = match (listed.next(), listed.next()) {
        (None, _) => bail!("box `{name}` lists no content for sale"),
        (Some(id), None) => id,
        _ => bail!("box `{name}` lists several contents; `umbra buy` expects a shop of one"),
    };

    let mut paid = 0u128;
    let mut tx = None;
    if !has_grant(&c, &id, &me).await? {
        if encryption_key_of(&c, &me).await.is_err() {
            // The seller wraps the key to this; without it no grant is possible.
            let key = buyer.encryption_keypair().public();
            submit_and_wait(
                &c,
                &buyer,
                Payload::SetEncryptionKey { key },
                None,
                a.timeout,
            )
            .await
            .context("registering your encryption key")?;
        }
        let Some(quote) = write_quote(&c, &name, &me).await? else {
            bail!("box `{name}` does not take orders from {me}");
        };
        if let Some(max) = &a.max_price {
            let max = parse_amount(max).context("--max-price")?;
            if quote > max {
                bail!(
                    "box `{name}` asks {} UMB, over --max-price",
                    format_amount(quote)
                );
            }
        }
        let order = Payload::BoxPush {
            name: name.clone(),
            body: MessageBody::Data(format!("{ORDER_PREFIX}{id}").into_bytes()),
        };
        let lookup = submit_and_wait(&c, &buyer, order, None, a.timeout).await?;
        paid = gate_payments(&lookup);
        tx = Some(lookup.tx.hash.to_string());
    }

    let deadline = Instant::now() + Duration::from_secs(a.wait);
    let mut granted = has_grant(&c, &id, &me).await?;
    while !granted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        granted = has_grant(&c, &id, &me).await?;
    }
    if a.wait > 0 && !granted {
        bail!(
            "paid for {id}, but the seller has not granted it within {} s; run `umbra buy {name}` again later (it will not charge twice)",
            a.wait
        );
    }
    let v = serde_json::json!({
        "box": name,
        "content_id": id.to_string(),
        "paid": paid.to_string(),
        "tx": tx,
        "granted": granted,
    });
    emit(g.json, &v, || {
        let state = if granted {
            format!("granted: umbra get {id} -o FILE --from {}", a.from)
        } else {
            "ordered; the seller grants it when they next run `umbra fulfil`".into()
        };
        format!("{id}: paid {} UMB\n  {state}", format_amount(paid))
    })
}

/// Everything the transaction paid to gates.
pub(crate) fn gate_payments(lookup: &umbra_rpc::TxLookup) -> u128 {
    lookup
        .receipt
        .iter()
        .flat_map(|r| &r.events)
        .filter_map(|e| match e {
            umbra_rpc::EventView::GatePaid {
                to_owner, to_pool, ..
            } => Some(to_owner.parse::<u128>().unwrap_or(0) + to_pool.parse::<u128>().unwrap_or(0)),
            _ => None,
        })
        .sum()
}

/// One pass over a shop's orders.
#[derive(Default, serde::Serialize)]
struct Served {
    granted: Vec<serde_json::Value>,
    skipped: Vec<serde_json::Value>,
}

pub async fn fulfil(a: FulfilArgs, g: &Global) -> anyhow::Result<()> {
    let owner = signer(&a.from)?;
    let c = RpcClient::new(&a.conn.rpc)?;
    let Some(info) = box_info(&c, &a.box_name).await? else {
        bail!("there is no box named `{}`", a.box_name);
    };
    if info.owner != owner.address() {
        bail!(
            "box `{}` belongs to {}, not to {}",
            a.box_name,
            info.owner,
            owner.address()
        );
    }
    if !a.watch {
        let served = serve_orders(&c, &owner, &a).await?;
        return emit(g.json, &served, || describe(&served, true));
    }
    loop {
        let served = serve_orders(&c, &owner, &a).await?;
        if !served.granted.is_empty() {
            if g.json {
                for v in &served.granted {
                    println!("{v}");
                }
            } else {
                println!("{}", describe(&served, false));
            }
        }
        tokio::time::sleep(Duration::from_secs(a.interval.max(1))).await;
    }
}

async fn serve_orders(c: &RpcClient, owner: &Keypair, a: &FulfilArgs) -> anyhow::Result<Served> {
    let name = &a.box_name;
    let info = box_info(c, name)
        .await?
        .with_context(|| format!("box `{name}` is gone"))?;
    let messages = first_messages(c, name).await?;
    let listed = listings(&info, &messages);
    let mut out = Served::default();
    let mut skip = |m: &MessageView, why: &str| {
        out.skipped.push(serde_json::json!({
            "index": m.index, "from": m.from.to_string(), "reason": why,
        }));
    };
    let mut to_serve = Vec::new();
    let mut keys: std::collections::BTreeMap<Hash, umbra_pdfs::ContentKey> = Default::default();
    for m in messages.iter().filter(|m| m.from != info.owner) {
        match ordered(m) {
            Some(id) if listed.contains(&id) => to_serve.push((m, id)),
            Some(_) => skip(m, "orders content this box does not sell"),
            None => skip(m, "not an order"),
        }
    }
    for (m, id) in to_serve {
        let buyer = m.from;
        if !has_grant(c, &id, &buyer).await? {
            // The chain, not the message, says whether they paid: with the
            // pay-once gate their quote is zero once they have.
            match write_quote(c, name, &buyer).await? {
                Some(0) => {}
                _ => {
                    skip(m, "has not paid the box's price");
                    continue;
                }
            }
            let reader_key = match encryption_key_of(c, &buyer).await {
                Ok(k) => k,
                Err(_) => {
                    skip(m, "has no registered encryption key");
                    continue;
                }
            };
            // One unwrap of the owner's grant per content and pass.
            let key = match keys.get(&id) {
                Some(k) => k,
                None => {
                    let k = key_from_grant(c, &id, owner).await?;
                    keys.entry(id).or_insert(k)
                }
            };
            let grant = Payload::StorageGrant {
                content_id: id,
                reader: buyer,
                wrapped_key: wrap_key(key, &reader_key, &id)?,
            };
            let lookup = submit_and_wait(c, owner, grant, None, a.timeout).await?;
            out.granted.push(serde_json::json!({
                "content_id": id.to_string(),
                "reader": buyer.to_string(),
                "order": m.index,
                "tx": lookup.tx.hash.to_string(),
            }));
        }
        // Served (now or before): the order is consumed.
        let delete = Payload::BoxDelete {
            name: name.clone(),
            index: m.index,
        };
        submit_and_wait(c, owner, delete, None, a.timeout).await?;
    }
    Ok(out)
}

fn describe(s: &Served, with_skipped: bool) -> String {
    let mut lines: Vec<String> = s
        .granted
        .iter()
        .map(|v| {
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            format!("granted {} to {}", text("content_id"), text("reader"))
        })
        .collect();
    if with_skipped {
        lines.extend(s.skipped.iter().map(|v| {
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            format!(
                "left message {} from {}: {}",
                v["index"],
                text("from"),
                text("reason")
            )
        }));
        if lines.is_empty() {
            lines.push("no orders waiting".into());
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> MessageView {
        MessageView {
            index: 0,
            from: Address([1; 32]),
            height: 1,
            timestamp_ms: 0,
            kind: "data".into(),
            data: None,
            text: Some(text.into()),
            content_id: None,
            size: text.len() as u64,
        }
    }

    #[test]
    fn orders_parse_only_their_own_form() {
        let id = Hash([7; 32]);
        assert_eq!(ordered(&msg(&format!("order {id}"))), Some(id));
        assert_eq!(ordered(&msg(&format!("order  {id} "))), Some(id));
        assert_eq!(ordered(&msg(&format!("{id}"))), None);
        assert_eq!(ordered(&msg("order 1234")), None);
        assert_eq!(ordered(&msg("hello")), None);
    }

    #[test]
    fn default_shop_names_are_valid_box_names() {
        let name = default_box(&Hash([0xab; 32]));
        assert_eq!(name, "shop_abababababab");
        assert!(
            name.len() <= 32
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }
}
