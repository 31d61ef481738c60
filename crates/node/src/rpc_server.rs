//! The JSON-RPC server: the methods of `umbra-rpc`, served over HTTP and
//! WebSocket on one port.

use crate::chain::Chain;
use crate::mempool::{Admission, Mempool};
use crate::submit::{SubmitError, submit_many, submit_one};
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::broadcast;
use umbra_rpc::*;
use umbra_types::{Address, Hash, Header};

/// What RPC methods need from the node.
pub struct RpcContext {
    pub chain: Arc<Chain>,
    pub mempool: Arc<Mutex<Mempool>>,
    pub heads: broadcast::Sender<Header>,
    pub producing: bool,
    pub block_time_ms: u64,
    /// This node's key, for "when is my next slot".
    pub key: Option<umbra_types::PublicKey>,
    pub network: Option<umbra_network::NetworkHandle>,
    /// Gossips what RPC admits.
    pub outbound: Option<tokio::sync::mpsc::Sender<crate::p2p::Outbound>>,
    /// Whether the `admin_*` methods are served.
    pub admin: bool,
}

impl RpcContext {
    /// Gossips transactions that were just admitted.
    pub(crate) fn gossip(&self, hashes: impl IntoIterator<Item = Hash>) {
        let Some(out) = &self.outbound else { return };
        let m = self.mempool.lock();
        for h in hashes {
            if let Some((tx, _)) = m.get(&h)
                && out.try_send(crate::p2p::Outbound::Tx(tx.clone())).is_err()
            {
                tracing::debug!(target: "umbra::rpc", "outbound queue full; transaction not gossiped");
            }
        }
    }
}

pub(crate) fn err(code: ErrorCode, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code.code(), msg.into(), None::<()>)
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(ErrorCode::Internal, e.to_string())
}

impl From<SubmitError> for ErrorObjectOwned {
    fn from(e: SubmitError) -> Self {
        ErrorObjectOwned::owned(e.code, e.message, None::<()>)
    }
}

pub(crate) fn one_param<T: serde::de::DeserializeOwned>(
    p: &Params<'_>,
    what: &str,
) -> Result<T, ErrorObjectOwned> {
    let mut seq = p.sequence();
    seq.next::<T>()
        .map_err(|e| ErrorObjectOwned::owned(-32602, format!("expected {what}: {e}"), None::<()>))
}

fn parse_hash(s: &str) -> Result<Hash, ErrorObjectOwned> {
    s.parse()
        .map_err(|e| err(ErrorCode::InvalidHash, format!("invalid hash: {e}")))
}

pub(crate) fn parse_address(s: &str) -> Result<Address, ErrorObjectOwned> {
    s.parse()
        .map_err(|e| err(ErrorCode::InvalidAddress, format!("invalid address: {e}")))
}

fn chain_block(ctx: &RpcContext, at: serde_json::Value) -> Result<BlockView, ErrorObjectOwned> {
    let store = ctx.chain.store();
    let height = match &at {
        serde_json::Value::Number(n) => n.as_u64().ok_or_else(|| {
            err(
                ErrorCode::BlockNotFound,
                "block height must be a non-negative integer",
            )
        })?,
        serde_json::Value::String(s) if s == "latest" => ctx.chain.head().height,
        serde_json::Value::String(s)
            if s.len() <= 20 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse()
                .map_err(|_| err(ErrorCode::BlockNotFound, "block height out of range"))?
        }
        serde_json::Value::String(s) => {
            let h = parse_hash(s)?;
            store
                .height_of(&h)
                .map_err(internal)?
                .ok_or_else(|| err(ErrorCode::BlockNotFound, format!("no block with hash {h}")))?
        }
        _ => {
            return Err(ErrorObjectOwned::owned(
                -32602,
                "expected a height, a block hash or \"latest\"",
                None::<()>,
            ));
        }
    };
    let block = store.block(height).map_err(internal)?.ok_or_else(|| {
        err(
            ErrorCode::BlockNotFound,
            format!("no block at height {height}"),
        )
    })?;
    Ok((&block).into())
}

fn chain_tx(ctx: &RpcContext, hash: Hash) -> Result<TxLookup, ErrorObjectOwned> {
    if let Some((tx, adm)) = ctx.mempool.lock().get(&hash).map(|(t, a)| (t.clone(), a)) {
        let status = match adm {
            Admission::Pending => TxState::Pending,
            Admission::Queued => TxState::Queued,
        };
        return Ok(TxLookup {
            status,
            tx: (&tx).into(),
            receipt: None,
            block_height: None,
            block_hash: None,
            index: None,
        });
    }
    let store = ctx.chain.store();
    let not_found = || {
        err(
            ErrorCode::TxNotFound,
            format!("no transaction {hash} in the chain or the mempool"),
        )
    };
    let loc = store
        .tx_location(&hash)
        .map_err(internal)?
        .ok_or_else(not_found)?;
    let block = store
        .block(loc.height)
        .map_err(internal)?
        .ok_or_else(not_found)?;
    let receipts = store
        .receipts(loc.height)
        .map_err(internal)?
        .unwrap_or_default();
    let tx = block
        .transactions
        .get(loc.index as usize)
        .ok_or_else(not_found)?;
    Ok(TxLookup {
        status: TxState::Included,
        tx: tx.into(),
        receipt: receipts.get(loc.index as usize).map(Into::into),
        block_height: Some(loc.height),
        block_hash: Some(block.hash()),
        index: Some(loc.index),
    })
}

async fn node_status(ctx: &RpcContext) -> StatusView {
    let peers = match &ctx.network {
        Some(n) => n.peers().await.map(|p| p.len() as u64).unwrap_or(0),
        None => 0,
    };
    let round = ctx.chain.aedpos_state().ok().flatten();
    let next_slot_ms = ctx
        .key
        .and_then(|k| {
            ctx.chain
                .next_slot_ms(&k, crate::service::now_ms())
                .ok()
                .flatten()
        })
        .filter(|_| ctx.producing);
    let head = ctx.chain.head();
    let (ready, queued) = ctx.mempool.lock().counts();
    StatusView {
        chain_id: ctx.chain.spec().chain_id,
        version: env!("CARGO_PKG_VERSION").to_string(),
        height: head.height,
        head_hash: head.hash(),
        irreversible_height: ctx.chain.irreversible_height(),
        peers,
        consensus: ctx.chain.engine().name().to_string(),
        block_time_ms: ctx.block_time_ms,
        mempool_ready: ready as u64,
        mempool_queued: queued as u64,
        producing: ctx.producing,
        executor: {
            let e = ctx.chain.executor_info();
            ExecutorView {
                kind: e.kind.to_string(),
                threads: e.threads as u64,
                parallel_phases: e.stats.parallel_phases,
                sequential_phases: e.stats.sequential_phases,
                rerun_txs: e.stats.rerun_txs,
                full_fallbacks: e.stats.full_fallbacks,
            }
        },
        round: round.as_ref().map(|s| s.round.number),
        term: round.as_ref().map(|s| s.round.term),
        next_slot_ms,
        peer_id: ctx.network.as_ref().map(|n| n.local_peer_id().to_string()),
        side_blocks: ctx.chain.side_blocks() as u64,
    }
}

/// All methods, on a module over the context.
pub fn module(
    ctx: Arc<RpcContext>,
) -> Result<RpcModule<RpcContext>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::from_arc(ctx);
    m.register_method(
        "chain_head",
        |_, ctx, _| -> Result<HeaderView, ErrorObjectOwned> { Ok((&ctx.chain.head()).into()) },
    )?;
    m.register_method("chain_block", |p, ctx, _| {
        let at: serde_json::Value = one_param(&p, "a height, a block hash or \"latest\"")?;
        chain_block(ctx, at)
    })?;
    m.register_method("chain_tx", |p, ctx, _| {
        let s: String = one_param(&p, "a transaction hash")?;
        chain_tx(ctx, parse_hash(&s)?)
    })?;
    m.register_method(
        "state_account",
        |p, ctx, _| -> Result<AccountView, ErrorObjectOwned> {
            let s: String = one_param(&p, "an address")?;
            let addr = parse_address(&s)?;
            let height = ctx.chain.head().height;
            let acct = ctx.chain.account(&addr).map_err(internal)?;
            let pending = ctx.mempool.lock().pending_nonce(&addr, acct.nonce);
            Ok(AccountView::new(
                addr,
                acct.balance,
                acct.nonce,
                pending,
                height,
            ))
        },
    )?;
    m.register_method("tx_submit", |p, ctx, _| -> Result<Hash, ErrorObjectOwned> {
        let s: String = one_param(&p, "the hex of a signed transaction")?;
        let (hash, _) = submit_one(&ctx.chain, &ctx.mempool, &s)?;
        ctx.gossip([hash]);
        Ok(hash)
    })?;
    m.register_blocking_method(
        "tx_submitBatch",
        |p, ctx, _| -> Result<Vec<SubmitOutcome>, ErrorObjectOwned> {
            let list: Vec<String> = one_param(&p, "an array of signed transaction hex strings")?;
            if list.len() > MAX_SUBMIT_BATCH {
                return Err(err(
                    ErrorCode::BatchTooLarge,
                    format!("at most {MAX_SUBMIT_BATCH} transactions per batch"),
                ));
            }
            let results = submit_many(&ctx.chain, &ctx.mempool, &list);
            ctx.gossip(
                results
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(|(h, _)| *h)),
            );
            Ok(results
                .into_iter()
                .map(|r| match r {
                    Ok((h, _)) => SubmitOutcome {
                        hash: Some(h),
                        error: None,
                    },
                    Err(e) => SubmitOutcome {
                        hash: None,
                        error: Some(umbra_rpc::SubmitError {
                            code: e.code,
                            message: e.message,
                        }),
                    },
                })
                .collect())
        },
    )?;
    m.register_async_method("node_status", |_, ctx, _| async move {
        Ok::<StatusView, ErrorObjectOwned>(node_status(&ctx).await)
    })?;
    crate::rpc_consensus::register(&mut m)?;
    crate::rpc_boxes::register(&mut m)?;
    crate::rpc_election::register(&mut m)?;
    crate::rpc_storage::register(&mut m)?;
    m.register_subscription(
        "chain_subscribeHeads",
        "chain_head",
        "chain_unsubscribeHeads",
        |_, pending, ctx, _| heads_subscription(pending, ctx),
    )?;
    Ok(m)
}

async fn heads_subscription(
    pending: PendingSubscriptionSink,
    ctx: Arc<RpcContext>,
) -> SubscriptionResult {
    let mut rx = ctx.heads.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => break,
            h = rx.recv() => match h {
                Ok(h) => {
                    let raw = serde_json::value::to_raw_value(&HeaderView::from(&h))?;
                    if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                        break;
                    }
                }
                // A slow subscriber skips heads rather than growing a queue.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    Ok(())
}

/// Starts the server on `addr` (HTTP and WebSocket on one port).
pub async fn serve(
    addr: SocketAddr,
    ctx: Arc<RpcContext>,
    content: Option<Arc<crate::content::ContentService>>,
) -> Result<(SocketAddr, ServerHandle), std::io::Error> {
    let cfg = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_response_body_size(64 * 1024 * 1024)
        .max_connections(1_000)
        .max_subscriptions_per_connection(64)
        .build();
    // The content gateway shares the port: `/content/…` is served by it,
    // everything else is JSON-RPC.
    let gateway =
        tower::ServiceBuilder::new().layer(crate::content::gateway::GatewayLayer::new(content));
    let server = Server::builder()
        .set_config(cfg)
        .set_http_middleware(gateway)
        .build(addr)
        .await?;
    let local = server.local_addr()?;
    let m = module(ctx).map_err(std::io::Error::other)?;
    Ok((local, server.start(m)))
}
