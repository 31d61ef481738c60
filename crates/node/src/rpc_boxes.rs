//! The box methods of the RPC: submitting box calls with an early answer,
//! reading boxes and messages, previewing gate costs, and the `box_subscribe`
//! stream of new messages.

use crate::chain::{Chain, block_randomness};
use crate::rpc_server::{RpcContext, err, internal, one_param, parse_address};
use crate::submit::{admit, decode_tx_hex};
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use std::sync::Arc;
use tokio::sync::broadcast;
use umbra_crypto::verify_transaction;
use umbra_rpc::*;
use umbra_runtime::boxes::{self, GateEnv, Message, query};
use umbra_types::{Address, Event, GateKind, Hash, MessageBody, Payload};

/// The gate environment of the block after the head: what a call submitted
/// now will most likely see.
fn next_env<'a>(chain: &'a Chain, block_time_ms: u64) -> GateEnv<'a> {
    let head = chain.head();
    GateEnv {
        height: head.height + 1,
        timestamp_ms: head.timestamp_ms.saturating_add(block_time_ms),
        randomness: block_randomness(&head.hash()),
        params: chain.params(),
    }
}

/// `box_create`, `box_setGate`, `box_push`, `box_pull`: a signed transaction
/// of the method's kind, previewed against the head state so a call that
/// would fail is refused before anything is charged, then admitted.
fn submit_box_call(
    ctx: &RpcContext,
    hex: &str,
    method: &str,
    accepts: fn(&Payload) -> bool,
) -> Result<Hash, ErrorObjectOwned> {
    let chain = &ctx.chain;
    let tx = decode_tx_hex(hex, chain.params().max_tx_bytes)?;
    if !accepts(&tx.payload) {
        return Err(err(
            ErrorCode::WrongCallKind,
            format!(
                "{method} takes a signed {} transaction, this one is `{}` (use tx_submit for any kind)",
                method.trim_start_matches("box_"),
                tx.payload.kind()
            ),
        ));
    }
    verify_transaction(&tx).map_err(|e| err(ErrorCode::BadSignature, e.to_string()))?;
    umbra_runtime::check_stateless(&tx, chain.spec().chain_id, chain.params())
        .map_err(crate::submit::SubmitError::from)?;
    let state = chain.store().state_at(chain.head().height);
    let env = next_env(chain, ctx.block_time_ms);
    match query::preview(&state, &env, &tx.sender_address(), &tx.payload).map_err(internal)? {
        Ok(_) => {}
        Err(f) => {
            return Err(err(
                ErrorCode::CallRefused,
                format!(
                    "{} (failure code {}); nothing was submitted",
                    f.reason, f.code
                ),
            ));
        }
    }
    let (hash, _) = admit(chain, &ctx.mempool, tx)?;
    ctx.gossip([hash]);
    Ok(hash)
}

fn message_view(index: u64, m: &Message) -> MessageView {
    let (kind, data, text, content_id, size) = match &m.body {
        MessageBody::Data(d) => (
            "data",
            Some(hex::encode(d)),
            std::str::from_utf8(d).ok().map(str::to_string),
            None,
            d.len() as u64,
        ),
        MessageBody::Link { content_id, size } => ("link", None, None, Some(*content_id), *size),
    };
    MessageView {
        index,
        from: m.from,
        height: m.height,
        timestamp_ms: m.timestamp_ms,
        kind: kind.to_string(),
        data,
        text,
        content_id,
        size,
    }
}

fn box_view(
    state: &dyn umbra_storage::StateView,
    name: &str,
) -> Result<Option<BoxView>, ErrorObjectOwned> {
    let Some(rec) = query::record(state, name).map_err(internal)? else {
        return Ok(None);
    };
    let mut gates = Vec::new();
    for kind in GateKind::ALL {
        let g = query::gate(state, name, kind).map_err(internal)?;
        gates.push(GateView {
            kind: kind.as_str().to_string(),
            scripted: g.is_some(),
            gas_bound: g.as_ref().map_or(0, |g| g.gas_bound),
            code: g.map(|g| hex::encode(g.code)),
        });
    }
    Ok(Some(BoxView {
        name: name.to_string(),
        id: rec.id,
        owner: rec.owner,
        address: boxes::keys::box_address(name),
        created_height: rec.created_height,
        messages: rec.live,
        next_index: rec.next_index,
        gates,
    }))
}

fn not_found(name: &str) -> ErrorObjectOwned {
    err(ErrorCode::BoxNotFound, format!("no box named `{name}`"))
}

fn box_name_param(p: &Params<'_>) -> Result<String, ErrorObjectOwned> {
    let name: String = one_param(p, "a box name")?;
    if name.len() > 64 {
        return Err(err(
            ErrorCode::BoxNotFound,
            "box names are at most 32 characters",
        ));
    }
    Ok(name)
}

fn optional<T: serde::de::DeserializeOwned>(
    seq: &mut jsonrpsee::types::params::ParamsSequence<'_>,
    what: &str,
) -> Result<Option<T>, ErrorObjectOwned> {
    seq.optional_next::<T>()
        .map_err(|e| ErrorObjectOwned::owned(-32602, format!("expected {what}: {e}"), None::<()>))
}

/// Registers the box methods on the node's module.
pub fn register(m: &mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("box_create", |p, ctx, _| {
        let s: String = one_param(&p, "the hex of a signed box_create transaction")?;
        submit_box_call(ctx, &s, "box_create", |p| {
            matches!(p, Payload::BoxCreate { .. })
        })
    })?;
    m.register_method("box_setGate", |p, ctx, _| {
        let s: String = one_param(&p, "the hex of a signed box_set_gate transaction")?;
        submit_box_call(ctx, &s, "box_setGate", |p| {
            matches!(p, Payload::BoxSetGate { .. })
        })
    })?;
    m.register_method("box_push", |p, ctx, _| {
        let s: String = one_param(&p, "the hex of a signed box_push transaction")?;
        submit_box_call(ctx, &s, "box_push", |p| {
            matches!(
                p,
                Payload::BoxPush { .. }
                    | Payload::BoxDelete { .. }
                    | Payload::BoxReplace { .. }
                    | Payload::BoxAllow { .. }
            )
        })
    })?;
    m.register_method("box_pull", |p, ctx, _| {
        let s: String = one_param(&p, "the hex of a signed box_pull transaction")?;
        submit_box_call(ctx, &s, "box_pull", |p| {
            matches!(p, Payload::BoxPull { .. })
        })
    })?;
    m.register_method(
        "box_info",
        |p, ctx, _| -> Result<BoxView, ErrorObjectOwned> {
            let name = box_name_param(&p)?;
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            box_view(&state, &name)?.ok_or_else(|| not_found(&name))
        },
    )?;
    m.register_method(
        "box_list",
        |p, ctx, _| -> Result<BoxListPage, ErrorObjectOwned> {
            let mut seq = p.sequence();
            let owner: Option<String> = optional(&mut seq, "an owner address or null")?;
            let from: Option<u64> = optional(&mut seq, "a box id to start from")?;
            let limit: Option<u64> = optional(&mut seq, "a page size")?;
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            let (names, next) = match owner {
                Some(o) => {
                    let owner = parse_address(&o)?;
                    (query::owned(&state, &owner).map_err(internal)?, None)
                }
                None => {
                    let (page, next) = query::all(&state, from.unwrap_or(0), limit.unwrap_or(100))
                        .map_err(internal)?;
                    (page.into_iter().map(|(_, n)| n).collect(), next)
                }
            };
            let mut boxes = Vec::with_capacity(names.len());
            for n in names {
                if let Some(v) = box_view(&state, &n)? {
                    boxes.push(v);
                }
            }
            Ok(BoxListPage { boxes, next })
        },
    )?;
    m.register_method(
        "box_messages",
        |p, ctx, _| -> Result<MessagesPage, ErrorObjectOwned> {
            let mut seq = p.sequence();
            let name: String = seq.next().map_err(|e| {
                ErrorObjectOwned::owned(-32602, format!("expected a box name: {e}"), None::<()>)
            })?;
            let from: Option<u64> = optional(&mut seq, "a message index to start from")?;
            let limit: Option<u64> = optional(&mut seq, "a page size")?;
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            let rec = query::record(&state, &name)
                .map_err(internal)?
                .ok_or_else(|| not_found(&name))?;
            let (msgs, next) =
                query::messages(&state, &name, &rec, from.unwrap_or(0), limit.unwrap_or(50))
                    .map_err(internal)?;
            Ok(MessagesPage {
                name,
                messages: msgs.iter().map(|(i, m)| message_view(*i, m)).collect(),
                next,
            })
        },
    )?;
    m.register_method(
        "box_inspect",
        |p, ctx, _| -> Result<InspectView, ErrorObjectOwned> {
            let mut seq = p.sequence();
            let name: String = seq.next().map_err(|e| {
                ErrorObjectOwned::owned(-32602, format!("expected a box name: {e}"), None::<()>)
            })?;
            let caller: Option<String> = optional(&mut seq, "the caller's address")?;
            let caller = match caller {
                Some(c) => parse_address(&c)?,
                None => Address([0; 32]),
            };
            let chain = &ctx.chain;
            let state = chain.store().state_at(chain.head().height);
            let rec = query::record(&state, &name)
                .map_err(internal)?
                .ok_or_else(|| not_found(&name))?;
            let env = next_env(chain, ctx.block_time_ms);
            let r = query::inspect(&state, &env, &caller, &name, &rec).map_err(internal)?;
            Ok(match r {
                Ok(previews) => InspectView {
                    name,
                    caller,
                    allowed: true,
                    reason: None,
                    gates: previews
                        .into_iter()
                        .map(|g| GatePreviewView {
                            kind: g.kind.as_str().to_string(),
                            scripted: g.scripted,
                            gas_bound: g.gas_bound,
                            gas_fee: g.gas_fee.to_string(),
                            allowed: g.allowed,
                            token_cost: g.token_cost.to_string(),
                            reason: g.reason,
                        })
                        .collect(),
                },
                Err(f) => InspectView {
                    name,
                    caller,
                    allowed: false,
                    reason: Some(f.reason),
                    gates: vec![],
                },
            })
        },
    )?;
    m.register_method(
        "state_encryptionKey",
        |p, ctx, _| -> Result<Option<String>, ErrorObjectOwned> {
            let s: String = one_param(&p, "an address")?;
            let addr = parse_address(&s)?;
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            Ok(query::encryption_key(&state, &addr)
                .map_err(internal)?
                .map(hex::encode))
        },
    )?;
    m.register_subscription(
        "box_subscribe",
        "box_message",
        "box_unsubscribe",
        |p, pending, ctx, _| async move {
            let name = match box_name_param(&p) {
                Ok(n) => n,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            messages_subscription(pending, ctx, name).await
        },
    )?;
    Ok(())
}

/// Most blocks one subscription catches up on after falling behind.
const MAX_CATCH_UP: u64 = 1024;

/// Sends every message pushed into box `name` from the next block on, in
/// order. Reads each new block's receipts, so a subscriber that lags
/// behind the head broadcast still gets every message (up to
/// [`MAX_CATCH_UP`] blocks back).
async fn messages_subscription(
    pending: PendingSubscriptionSink,
    ctx: Arc<RpcContext>,
    name: String,
) -> SubscriptionResult {
    if boxes::check_name(&name).is_err() {
        pending.reject(not_found(&name)).await;
        return Ok(());
    }
    let mut rx = ctx.heads.subscribe();
    let mut done = ctx.chain.head().height;
    let sink = pending.accept().await?;
    loop {
        let head = tokio::select! {
            _ = sink.closed() => break,
            h = rx.recv() => match h {
                Ok(h) => h.height,
                Err(broadcast::error::RecvError::Lagged(_)) => ctx.chain.head().height,
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        let start = (done + 1).max(head.saturating_sub(MAX_CATCH_UP));
        for height in start..=head {
            for ev in box_messages_at(&ctx.chain, &name, height)? {
                let raw = serde_json::value::to_raw_value(&ev)?;
                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                    return Ok(());
                }
            }
        }
        done = done.max(head);
    }
    Ok(())
}

/// The messages pushed into `name` by the block at `height`, as stored
/// now (a message deleted since is skipped).
fn box_messages_at(
    chain: &Chain,
    name: &str,
    height: u64,
) -> Result<Vec<BoxMessageEvent>, Box<dyn std::error::Error + Send + Sync>> {
    let store = chain.store();
    let receipts = store.receipts(height)?.unwrap_or_default();
    let state = store.state_at(chain.head().height);
    let mut out = Vec::new();
    for r in &receipts {
        for e in &r.events {
            if let Event::MessagePushed { name: n, index, .. } = e
                && n == name
                && let Some(m) =
                    boxes::state::load::<Message>(&state, &boxes::keys::message(name, *index))?
            {
                out.push(BoxMessageEvent {
                    name: name.to_string(),
                    block_height: height,
                    message: message_view(*index, &m),
                });
            }
        }
    }
    Ok(out)
}
