//! Commands that talk to a running node: transfer, balance, block, tx, status.

use crate::cli::{BalanceArgs, BlockArgs, Conn, Global, StatusArgs, TransferArgs, TxArgs};
use crate::output::emit;
use crate::resolve::{address, signer};
use anyhow::{Context, bail};
use std::time::{Duration, Instant};
use umbra_rpc::{BlockView, RpcClient, TxLookup, TxState};
use umbra_types::{
    Hash, Payload, RefBlock, UnsignedTransaction, encode, format_amount, parse_amount,
};

fn client(c: &Conn) -> anyhow::Result<RpcClient> {
    Ok(RpcClient::new(&c.rpc)?)
}

pub async fn transfer(a: TransferArgs, g: &Global) -> anyhow::Result<()> {
    let key = signer(&a.from)?;
    let to = address(&a.to)?;
    let amount = parse_amount(&a.amount).context("--amount")?;
    let send = Send {
        max_fee: a.max_fee,
        nonce: a.nonce,
        wait: a.wait,
        timeout: a.timeout,
    };
    send_payload(&a.conn, &key, Payload::Transfer { to, amount }, &send, g).await
}

/// Signs `payload` as `key`'s transaction with `nonce` (default: the next
/// free one, counting pending transactions), referencing the head.
pub async fn sign_next(
    c: &RpcClient,
    key: &umbra_crypto::Keypair,
    payload: Payload,
    max_fee: umbra_types::Amount,
    nonce: Option<u64>,
) -> anyhow::Result<umbra_types::Transaction> {
    let status = c.status().await?;
    let head = c.head().await?;
    let nonce = match nonce {
        Some(n) => n,
        None => c.account(&key.address()).await?.pending_nonce,
    };
    Ok(key.sign_transaction(UnsignedTransaction {
        chain_id: status.chain_id,
        sender: key.public(),
        nonce,
        ref_block: RefBlock::new(head.height, &head.hash),
        max_fee,
        payload,
    }))
}

/// How to send a transaction: the flags every sending command shares.
pub struct Send {
    /// Tokens, as typed.
    pub max_fee: String,
    pub nonce: Option<u64>,
    pub wait: bool,
    /// Seconds.
    pub timeout: u64,
}

/// Signs `payload` as the next transaction of `key`, submits it, and
/// either reports it submitted or waits for its receipt.
pub async fn send_payload(
    conn: &Conn,
    key: &umbra_crypto::Keypair,
    payload: Payload,
    a: &Send,
    g: &Global,
) -> anyhow::Result<()> {
    let max_fee = parse_amount(&a.max_fee).context("--max-fee")?;
    let c = client(conn)?;
    let tx = sign_next(&c, key, payload, max_fee, a.nonce).await?;
    let nonce = tx.nonce;
    let hash = c.submit(hex::encode(encode(&tx))).await?;
    if !a.wait {
        let lookup = c.tx(&hash).await.ok();
        let state = lookup.as_ref().map(|l| l.status);
        let v = serde_json::json!({ "hash": hash, "nonce": nonce, "status": state });
        return emit(g.json, &v, || {
            let note = match state {
                Some(TxState::Queued) => " (queued: waiting for an earlier nonce)",
                Some(TxState::Included) => " (included)",
                _ => " (pending)",
            };
            format!("submitted {hash}{note}")
        });
    }
    report_included(&c, &hash, Duration::from_secs(a.timeout), g.json).await
}

/// Waits for `hash` to be in a block, prints it, and fails if its call failed.
pub async fn report_included(
    c: &RpcClient,
    hash: &Hash,
    timeout: Duration,
    json: bool,
) -> anyhow::Result<()> {
    let lookup = wait_included(c, hash, timeout).await?;
    let failed = lookup
        .receipt
        .as_ref()
        .is_some_and(|r| r.status != "success");
    emit(json, &lookup, || describe_tx(&lookup))?;
    if failed {
        bail!("transaction {hash} was included but failed");
    }
    Ok(())
}

pub async fn wait_included(
    c: &RpcClient,
    hash: &Hash,
    timeout: Duration,
) -> anyhow::Result<TxLookup> {
    let start = Instant::now();
    loop {
        match c.tx(hash).await {
            Ok(l) if l.status == TxState::Included => return Ok(l),
            Ok(_) => {}
            // Dropped from the mempool (e.g. its reference block expired).
            Err(e) if e.code() == Some(umbra_rpc::ErrorCode::TxNotFound.code()) => {
                bail!(
                    "transaction {hash} is no longer known to the node (dropped before inclusion)"
                )
            }
            Err(e) => return Err(e.into()),
        }
        if start.elapsed() > timeout {
            bail!(
                "transaction {hash} was not included within {}s",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn describe_tx(l: &TxLookup) -> String {
    let status = match l.status {
        TxState::Included => "included",
        TxState::Pending => "pending (next in line for a block)",
        TxState::Queued => "queued (waiting for an earlier nonce)",
    };
    let mut s = format!("transaction {}\n  status:  {status}", l.tx.hash);
    s.push_str(&format!(
        "\n  from:    {}\n  nonce:   {}\n  call:    {}",
        l.tx.sender, l.tx.nonce, l.tx.kind
    ));
    if let (Some(to), Some(amount)) = (&l.tx.to, &l.tx.amount) {
        let amt = amount
            .parse::<u128>()
            .map(format_amount)
            .unwrap_or_else(|_| amount.clone());
        s.push_str(&format!("\n  to:      {to}\n  amount:  {amt}"));
    }
    if let (Some(h), Some(bh)) = (l.block_height, &l.block_hash) {
        s.push_str(&format!("\n  block:   {h} ({bh})"));
    }
    if let Some(r) = &l.receipt {
        let fee = r
            .fee_paid
            .parse::<u128>()
            .map(format_amount)
            .unwrap_or_else(|_| r.fee_paid.clone());
        s.push_str(&format!("\n  result:  {}", r.status));
        if let Some(reason) = &r.fail_reason {
            s.push_str(&format!(" ({reason})"));
        }
        s.push_str(&format!("\n  fee:     {fee}"));
    }
    s
}

pub async fn balance(a: BalanceArgs, g: &Global) -> anyhow::Result<()> {
    let addr = address(&a.account)?;
    let acct = client(&a.conn)?.account(&addr).await?;
    emit(g.json, &acct, || {
        format!(
            "{}\n  balance: {}\n  nonce:   {} (next: {})",
            acct.address, acct.balance_display, acct.nonce, acct.pending_nonce
        )
    })
}

pub async fn block(a: BlockArgs, g: &Global) -> anyhow::Result<()> {
    let at = match a.at.parse::<u64>() {
        Ok(n) => serde_json::Value::from(n),
        Err(_) => serde_json::Value::from(a.at.clone()),
    };
    let b: BlockView = client(&a.conn)?.block(at).await?;
    emit(g.json, &b, || {
        let h = &b.header;
        let mut s = format!(
            "block {}\n  hash:        {}\n  parent:      {}\n  time (ms):   {}\n  proposer:    {}\n  state root:  {}\n  txs:         {}",
            h.height,
            h.hash,
            h.parent_hash,
            h.timestamp_ms,
            h.proposer,
            h.state_root,
            b.transactions.len()
        );
        for t in b.transactions.iter().take(50) {
            s.push_str(&format!("\n    {} {} nonce {}", t.hash, t.kind, t.nonce));
        }
        if b.transactions.len() > 50 {
            s.push_str(&format!(
                "\n    … and {} more (use --json for all)",
                b.transactions.len() - 50
            ));
        }
        s
    })
}

pub async fn tx(a: TxArgs, g: &Global) -> anyhow::Result<()> {
    let hash: Hash = a
        .hash
        .parse()
        .with_context(|| format!("`{}` is not a transaction hash", a.hash))?;
    let l = client(&a.conn)?.tx(&hash).await?;
    emit(g.json, &l, || describe_tx(&l))
}

pub async fn status(a: StatusArgs, g: &Global) -> anyhow::Result<()> {
    let s = client(&a.conn)?.status().await?;
    emit(g.json, &s, || {
        let mut out = format!(
            "chain {} ({} consensus, {} ms {}), umbra {}\n  height:              {} ({})\n  irreversible height: {}\n  peers:               {}\n  mempool:             {} ready, {} queued\n  producing:           {}",
            s.chain_id,
            s.consensus,
            s.block_time_ms,
            if s.round.is_some() { "slots" } else { "blocks" },
            s.version,
            s.height,
            s.head_hash,
            s.irreversible_height,
            s.peers,
            s.mempool_ready,
            s.mempool_queued,
            s.producing
        );
        if let (Some(round), Some(term)) = (s.round, s.term) {
            out.push_str(&format!("\n  round:               {round} (term {term})"));
        }
        if let Some(next) = s.next_slot_ms {
            let wait = next.saturating_sub(umbra_node::now_ms());
            out.push_str(&format!("\n  next slot:           in {wait} ms"));
        }
        if let Some(id) = &s.peer_id {
            out.push_str(&format!("\n  peer id:             {id}"));
        }
        out
    })
}
