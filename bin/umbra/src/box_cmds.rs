//! `umbra box …`: boxes, gates and messages from the command line.

use crate::cli::Global;
use crate::cli_box::{
    AllowArgs, BoxCmd, GateSetArgs, InspectArgs, LsArgs, MessagesArgs, PullArgs, PushArgs, TxOpts,
    WatchArgs,
};
use crate::client_cmds::{report_included, sign_next, wait_included};
use crate::output::emit;
use crate::resolve::{address, signer};
use anyhow::{Context, bail};
use std::time::Duration;
use umbra_crypto::{BOX_MESSAGE_INFO, Keypair};
use umbra_rpc::{BoxListPage, BoxView, InspectView, MessageView, MessagesPage, RpcClient};
use umbra_types::{GateKind, MessageBody, Payload, encode, format_amount, parse_amount};

pub async fn run(cmd: BoxCmd, g: &Global) -> anyhow::Result<()> {
    match cmd {
        BoxCmd::Create { name, tx } => {
            send(&tx, g, "box_create", Payload::BoxCreate { name }).await
        }
        BoxCmd::Gate(a) => set_gate(a, g).await,
        BoxCmd::Push(a) => push(a, g).await,
        BoxCmd::Pull(a) => pull(a, g).await,
        BoxCmd::Ls(a) => ls(a, g).await,
        BoxCmd::Info { name, conn } => {
            let v: BoxView = RpcClient::new(&conn.rpc)?
                .call("box_info", vec![name.into()])
                .await?;
            emit(g.json, &v, || describe_box(&v))
        }
        BoxCmd::Messages(a) => messages(a, g).await,
        BoxCmd::Inspect(a) => inspect(a, g).await,
        BoxCmd::Watch(a) => watch(a, g).await,
        BoxCmd::Allow(a) => allow(a, g).await,
        BoxCmd::Delete { name, index, tx } => {
            send(&tx, g, "box_push", Payload::BoxDelete { name, index }).await
        }
        BoxCmd::RegisterKey { tx } => {
            let key = signer(&tx.from)?.encryption_keypair().public();
            send(&tx, g, "tx_submit", Payload::SetEncryptionKey { key }).await
        }
    }
}

/// Signs `payload` as the signer's next transaction, submits it through
/// `method` (which previews box calls and refuses ones that would fail), and
/// unless `--no-wait` waits for the block and reports the result.
async fn send(o: &TxOpts, g: &Global, method: &str, payload: Payload) -> anyhow::Result<()> {
    let key = signer(&o.from)?;
    let c = RpcClient::new(&o.conn.rpc)?;
    let hash = submit(&c, &key, o, method, payload).await?;
    if o.no_wait {
        let v = serde_json::json!({ "hash": hash });
        return emit(g.json, &v, || format!("submitted {hash}"));
    }
    report_included(&c, &hash, Duration::from_secs(o.timeout), g.json).await
}

async fn submit(
    c: &RpcClient,
    key: &Keypair,
    o: &TxOpts,
    method: &str,
    payload: Payload,
) -> anyhow::Result<umbra_types::Hash> {
    let max_fee = parse_amount(&o.max_fee).context("--max-fee")?;
    let tx = sign_next(c, key, payload, max_fee, None).await?;
    Ok(c.call(method, vec![hex::encode(encode(&tx)).into()])
        .await?)
}

fn template(a: &GateSetArgs, t: &str) -> anyhow::Result<Vec<u8>> {
    use umbra_sdk::gates;
    let price = || -> anyhow::Result<u128> {
        let p = a
            .price
            .as_deref()
            .with_context(|| format!("template `{t}` needs --price"))?;
        parse_amount(p).context("--price")
    };
    let code = match t {
        "anyone" => gates::anyone(),
        "nobody" => gates::nobody(),
        "owner-only" => gates::owner_only(),
        "owner-or-listed" => gates::owner_or_listed(),
        "listed-only" => gates::listed_only(),
        "pay-per-access" => gates::pay_per_access(price()?),
        "pay-once" => gates::pay_once(price()?),
        "pay-and-join" => gates::pay_and_join(price()?),
        "subscription" => {
            let secs = a
                .period_secs
                .context("template `subscription` needs --period-secs")?;
            gates::subscription(price()?, secs.saturating_mul(1000))
        }
        "autoresponder" => {
            let outbox = a
                .outbox
                .as_deref()
                .context("template `autoresponder` needs --outbox")?;
            let reply = a.reply.as_deref().unwrap_or("thanks, your message arrived");
            gates::autoresponder(outbox, reply.as_bytes())
        }
        other => bail!(
            "unknown template `{other}`; known: anyone, nobody, owner-only, owner-or-listed, listed-only, pay-per-access, pay-once, subscription, pay-and-join, autoresponder"
        ),
    };
    code.map_err(|e| anyhow::anyhow!("building template `{t}`: {e}"))
}

async fn set_gate(a: GateSetArgs, g: &Global) -> anyhow::Result<()> {
    let kind: GateKind = a.kind.parse().map_err(anyhow::Error::msg)?;
    let code = if a.clear {
        vec![]
    } else if let Some(f) = &a.file {
        let src = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        umbra_vm::assemble(&src).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
    } else if let Some(t) = &a.template {
        template(&a, t)?
    } else {
        bail!("say what the gate is: --file F.gate, --template NAME, or --clear");
    };
    let payload = Payload::BoxSetGate {
        name: a.name.clone(),
        kind,
        code,
    };
    send(&a.tx, g, "box_setGate", payload).await
}

/// Largest file `box push --file` reads.
const MAX_BODY_FILE: u64 = 1 << 20;

fn read_body(a: &PushArgs) -> anyhow::Result<Vec<u8>> {
    if let Some(t) = &a.text {
        Ok(t.as_bytes().to_vec())
    } else if let Some(f) = &a.file {
        // A message is at most a few KiB on chain; refuse a huge file before
        // reading it into memory.
        let len = std::fs::metadata(f)
            .with_context(|| format!("reading {}", f.display()))?
            .len();
        if len > MAX_BODY_FILE {
            bail!(
                "{} is {len} bytes; message bodies on chain are far smaller (store large content off chain)",
                f.display()
            );
        }
        std::fs::read(f).with_context(|| format!("reading {}", f.display()))
    } else if let Some(h) = &a.hex {
        hex::decode(h.trim_start_matches("0x")).context("--hex is not valid hex")
    } else {
        bail!("say what to push: --text, --file or --hex")
    }
}

async fn push(a: PushArgs, g: &Global) -> anyhow::Result<()> {
    let mut body = read_body(&a)?;
    if let Some(to) = &a.encrypt_to {
        let to = address(to)?;
        let c = RpcClient::new(&a.tx.conn.rpc)?;
        let key: Option<String> = c
            .call("state_encryptionKey", vec![to.to_bech32().into()])
            .await?;
        let Some(key) = key else {
            bail!("{to} has not registered an encryption key (they run `umbra box register-key`)");
        };
        let pk: [u8; 32] = hex::decode(&key)
            .ok()
            .and_then(|v| v.try_into().ok())
            .context("the node returned a malformed encryption key")?;
        body = umbra_crypto::seal(&pk, BOX_MESSAGE_INFO, a.name.as_bytes(), &body)?;
    }
    let payload = Payload::BoxPush {
        name: a.name.clone(),
        body: MessageBody::Data(body),
    };
    send(&a.tx, g, "box_push", payload).await
}

async fn pull(a: PullArgs, g: &Global) -> anyhow::Result<()> {
    let key = signer(&a.tx.from)?;
    let c = RpcClient::new(&a.tx.conn.rpc)?;
    let info: BoxView = c.call("box_info", vec![a.name.clone().into()]).await?;
    let index = match a.index {
        Some(i) => i,
        None => match info.next_index.checked_sub(1) {
            Some(i) => i,
            None => bail!("box `{}` has no messages", a.name),
        },
    };
    let payload = Payload::BoxPull {
        name: a.name.clone(),
        index: Some(index),
    };
    let hash = submit(&c, &key, &a.tx, "box_pull", payload).await?;
    let lookup = wait_included(&c, &hash, Duration::from_secs(a.tx.timeout)).await?;
    if let Some(r) = lookup.receipt.as_ref().filter(|r| r.status != "success") {
        bail!(
            "pull {hash} was included but failed: {}",
            r.fail_reason.as_deref().unwrap_or("unknown reason")
        );
    }
    let page: MessagesPage = c
        .call(
            "box_messages",
            vec![a.name.clone().into(), index.into(), 1.into()],
        )
        .await?;
    let Some(mut m) = page.messages.into_iter().find(|m| m.index == index) else {
        bail!("message {index} of box `{}` is gone", a.name);
    };
    if a.decrypt {
        let sealed = hex::decode(m.data.as_deref().unwrap_or_default()).unwrap_or_default();
        let plain = umbra_crypto::open(
            &key.encryption_keypair(),
            BOX_MESSAGE_INFO,
            a.name.as_bytes(),
            &sealed,
        )
        .with_context(|| format!("message {index} is not encrypted to {}", key.address()))?;
        m.text = String::from_utf8(plain.clone()).ok();
        m.data = Some(hex::encode(&plain));
        m.size = plain.len() as u64;
    }
    let paid = crate::sale_cmds::gate_payments(&lookup);
    let v = serde_json::json!({ "tx": hash, "paid": paid.to_string(), "message": m });
    emit(g.json, &v, || {
        format!(
            "{}\n  paid to the gate: {}",
            describe_message(&m),
            format_amount(paid)
        )
    })
}

async fn ls(a: LsArgs, g: &Global) -> anyhow::Result<()> {
    let owner = match &a.owner {
        Some(o) => serde_json::Value::from(address(o)?.to_bech32()),
        None => serde_json::Value::Null,
    };
    let page: BoxListPage = RpcClient::new(&a.conn.rpc)?
        .call("box_list", vec![owner, a.from.into(), a.limit.into()])
        .await?;
    emit(g.json, &page, || {
        if page.boxes.is_empty() {
            return "no boxes".into();
        }
        let mut s = String::new();
        for b in &page.boxes {
            s.push_str(&format!(
                "{:<32} id {:<6} {:>6} messages  owner {}\n",
                b.name, b.id, b.messages, b.owner
            ));
        }
        if let Some(n) = page.next {
            s.push_str(&format!("… more from id {n} (--from {n})\n"));
        }
        s.trim_end().to_string()
    })
}

async fn messages(a: MessagesArgs, g: &Global) -> anyhow::Result<()> {
    let page: MessagesPage = RpcClient::new(&a.conn.rpc)?
        .call(
            "box_messages",
            vec![a.name.clone().into(), a.from.into(), a.limit.into()],
        )
        .await?;
    emit(g.json, &page, || {
        let mut s: Vec<String> = page.messages.iter().map(describe_message).collect();
        if s.is_empty() {
            s.push(format!(
                "box `{}` has no messages from index {}",
                a.name, a.from
            ));
        }
        if let Some(n) = page.next {
            s.push(format!("… more from index {n} (--from {n})"));
        }
        s.join("\n")
    })
}

async fn inspect(a: InspectArgs, g: &Global) -> anyhow::Result<()> {
    let mut params = vec![a.name.clone().into()];
    if let Some(c) = &a.caller {
        params.push(address(c)?.to_bech32().into());
    }
    let v: InspectView = RpcClient::new(&a.conn.rpc)?
        .call("box_inspect", params)
        .await?;
    emit(g.json, &v, || {
        if !v.allowed {
            return format!(
                "box `{}`: the inspect gate refuses {}: {}",
                v.name,
                v.caller,
                v.reason.as_deref().unwrap_or("")
            );
        }
        let mut s = format!("box `{}` for {}", v.name, v.caller);
        for p in &v.gates {
            let fee = p
                .gas_fee
                .parse::<u128>()
                .map(format_amount)
                .unwrap_or_default();
            let cost = p
                .token_cost
                .parse::<u128>()
                .map(format_amount)
                .unwrap_or_default();
            let verdict = if p.allowed {
                format!("allowed, charges {cost}")
            } else {
                format!("refused ({})", p.reason.as_deref().unwrap_or(""))
            };
            s.push_str(&format!(
                "\n  {:<7} {:<8} gas bound {:>7} (fee {fee}): {verdict}",
                p.kind,
                if p.scripted { "script" } else { "default" },
                p.gas_bound
            ));
        }
        s
    })
}

async fn watch(a: WatchArgs, g: &Global) -> anyhow::Result<()> {
    use jsonrpsee_core::client::{Subscription, SubscriptionClientT};
    let url = a
        .conn
        .rpc
        .replacen("http://", "ws://", 1)
        .replacen("https://", "wss://", 1);
    let ws = jsonrpsee_ws_client::WsClientBuilder::default()
        .build(&url)
        .await
        .with_context(|| format!("cannot open a WebSocket to {url}"))?;
    let mut sub: Subscription<umbra_rpc::BoxMessageEvent> = ws
        .subscribe(
            "box_subscribe",
            jsonrpsee_core::rpc_params![a.name.clone()],
            "box_unsubscribe",
        )
        .await
        .with_context(|| format!("cannot watch box `{}`", a.name))?;
    if !g.json {
        eprintln!("watching box `{}` (Ctrl-C to stop)", a.name);
    }
    let deadline = a
        .timeout
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut seen = 0u64;
    while a.count.is_none_or(|c| seen < c) {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, sub.next()).await {
                Ok(n) => n,
                Err(_) => match a.count {
                    Some(c) => bail!(
                        "timed out after {}s with {seen} of {c} messages",
                        a.timeout.unwrap_or_default()
                    ),
                    None => break,
                },
            },
            None => sub.next().await,
        };
        let Some(ev) = next else {
            bail!("the node closed the subscription");
        };
        let ev = ev.context("bad notification from the node")?;
        // One JSON value per line, so `--json` output streams.
        if g.json {
            println!("{}", serde_json::to_string(&ev)?);
        } else {
            println!(
                "block {}: {}",
                ev.block_height,
                describe_message(&ev.message)
            );
        }
        seen += 1;
    }
    Ok(())
}

async fn allow(a: AllowArgs, g: &Global) -> anyhow::Result<()> {
    let who = address(&a.address)?;
    let payload = Payload::BoxAllow {
        name: a.name.clone(),
        address: who,
        allow: !a.remove,
    };
    send(&a.tx, g, "box_push", payload).await
}

fn describe_box(b: &BoxView) -> String {
    let mut s = format!(
        "box `{}` (id {})\n  owner:    {}\n  address:  {}\n  created:  block {}\n  messages: {} (next index {})",
        b.name, b.id, b.owner, b.address, b.created_height, b.messages, b.next_index
    );
    for gt in &b.gates {
        if gt.scripted {
            s.push_str(&format!(
                "\n  {} gate: script, gas bound {}",
                gt.kind, gt.gas_bound
            ));
        } else {
            let rule = if gt.kind == "write" {
                "owner only"
            } else {
                "anyone, free"
            };
            s.push_str(&format!("\n  {} gate: default ({rule})", gt.kind));
        }
    }
    s
}

fn describe_message(m: &MessageView) -> String {
    let body = match (&m.text, &m.data, &m.content_id) {
        (Some(t), _, _) => format!("{t:?}"),
        (None, Some(d), _) => format!("{} bytes: {}", m.size, short_hex(d)),
        (None, None, Some(id)) => format!("link to content {id} ({} bytes)", m.size),
        _ => String::new(),
    };
    format!("#{} from {} at block {}: {body}", m.index, m.from, m.height)
}

fn short_hex(h: &str) -> String {
    // The string comes from the node: slice without trusting it to be ASCII.
    match h.get(..64) {
        Some(head) if h.len() > 64 => format!("{head}…"),
        _ => h.to_string(),
    }
}
