//! RPC methods for consensus and the network: the current AEDPoS round, this
//! node's peers, and (test networks only) cutting links to peers.

use crate::rpc_server::{RpcContext, err, internal, one_param};
use jsonrpsee::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use umbra_network::PeerId;
use umbra_rpc::{ErrorCode, P2pInfoView, PeerView, RoundMinerView, RoundView};

pub fn register(m: &mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method(
        "consensus_round",
        |_, ctx, _| -> Result<RoundView, ErrorObjectOwned> {
            let head = ctx.chain.head();
            let state = ctx.chain.aedpos_state().map_err(internal)?.ok_or_else(|| {
                err(
                    ErrorCode::Unsupported,
                    format!(
                        "this chain runs the {} engine, which has no rounds",
                        ctx.chain.engine().name()
                    ),
                )
            })?;
            let interval = ctx.chain.engine().interval_ms();
            let r = &state.round;
            Ok(RoundView {
                height: head.height,
                round: r.number,
                term: r.term,
                start_ms: r.start_ms,
                interval_ms: interval,
                extra_producer: r.extra_producer,
                extra_slot_start_ms: r.extra_slot_start(interval),
                irreversible_height: state.irreversible,
                miners: r
                    .miners
                    .iter()
                    .map(|m| RoundMinerView {
                        key: m.key.to_hex(),
                        address: m.key.address(),
                        order: m.order,
                        slot_start_ms: r.slot(m.order, interval).0,
                        mined: m.mined(),
                        blocks: m.blocks,
                        missed_slots: m.missed_slots,
                        implied_irreversible: m.implied_irreversible,
                    })
                    .collect(),
            })
        },
    )?;
    m.register_async_method("p2p_info", |_, ctx, _| async move {
        let net = network(&ctx)?;
        let id = net.local_peer_id();
        let listen_addrs = net
            .listen_addrs()
            .await
            .map_err(internal)?
            .iter()
            .map(|a| umbra_network::peer_addr(a, id).to_string())
            .collect();
        let peers = net.peers().await.map_err(internal)?.len() as u64;
        Ok::<_, ErrorObjectOwned>(P2pInfoView {
            peer_id: id.to_string(),
            listen_addrs,
            peers,
        })
    })?;
    m.register_async_method("p2p_peers", |_, ctx, _| async move {
        let peers = network(&ctx)?.peers().await.map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(
            peers
                .into_iter()
                .map(|p| PeerView {
                    peer_id: p.id.to_string(),
                    addr: p.addr.to_string(),
                    score: p.score,
                    gossip: p.gossip,
                })
                .collect::<Vec<_>>(),
        )
    })?;
    for (name, block) in [("admin_blockPeer", true), ("admin_unblockPeer", false)] {
        m.register_async_method(name, move |p, ctx, _| async move {
            if !ctx.admin {
                return Err(err(
                    ErrorCode::Unsupported,
                    "admin methods are off; start the node with --admin-rpc (test networks only)",
                ));
            }
            let s: String = one_param(&p, "a peer id")?;
            let peer: PeerId = s
                .parse()
                .map_err(|e| err(ErrorCode::InvalidParams, format!("invalid peer id: {e}")))?;
            let net = network(&ctx)?;
            let r = if block {
                net.block_peer(peer).await
            } else {
                net.unblock_peer(peer).await
            };
            r.map_err(internal)?;
            Ok::<bool, ErrorObjectOwned>(true)
        })?;
    }
    Ok(())
}

fn network(ctx: &RpcContext) -> Result<&umbra_network::NetworkHandle, ErrorObjectOwned> {
    ctx.network.as_ref().ok_or_else(|| {
        err(
            ErrorCode::Unsupported,
            "this node is not on a network (started without --p2p)",
        )
    })
}
