//! The content storage methods of the RPC. Storage calls themselves are
//! ordinary transactions (`tx_submit`); these read allocations, grants and
//! storage nodes as of the head, and quote prices.

use crate::rpc_server::{RpcContext, err, internal, one_param, parse_address};
use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use umbra_rpc::{
    AllocationView, ErrorCode, GrantView, StorageNodeView, StoragePriceRequest, StoragePriceView,
};
use umbra_runtime::storage;
use umbra_types::{Hash, Payload, StorageMode, content_blocks};

fn parse_content_id(s: &str) -> Result<Hash, ErrorObjectOwned> {
    s.parse()
        .map_err(|e| err(ErrorCode::InvalidHash, format!("invalid content id: {e}")))
}

fn second<T: serde::de::DeserializeOwned>(
    p: &Params<'_>,
    first: &str,
    second: &str,
) -> Result<(T, T), ErrorObjectOwned> {
    let mut seq = p.sequence();
    let bad = |what: &str, e: jsonrpsee::types::ErrorObjectOwned| {
        ErrorObjectOwned::owned(-32602, format!("expected {what}: {e}"), None::<()>)
    };
    let a = seq.next::<T>().map_err(|e| bad(first, e))?;
    let b = seq.next::<T>().map_err(|e| bad(second, e))?;
    Ok((a, b))
}

/// What `req` costs, checked against the chain's allocation rules.
fn price(
    params: &umbra_runtime::ChainParams,
    req: &StoragePriceRequest,
) -> Result<StoragePriceView, ErrorObjectOwned> {
    let bad = |m: String| err(ErrorCode::InvalidParams, m);
    let mode: StorageMode = req.mode.parse().map_err(bad)?;
    let blocks = content_blocks(req.size);
    // The same rules an allocation is admitted by, on a stand-in content id.
    let call = Payload::StorageAlloc {
        content_id: Hash([1; 32]),
        size: req.size,
        blocks,
        replicas: req.replicas,
        priority: req.priority,
        mode,
        period_ms: req.period_ms,
        public: false,
    };
    storage::check_call(&call, params).map_err(bad)?;
    let price = storage::storage_price(
        params,
        blocks,
        req.replicas,
        req.priority,
        mode,
        req.period_ms,
    )
    .ok_or_else(|| bad("the price overflows".into()))?;
    Ok(StoragePriceView {
        blocks,
        price: price.to_string(),
    })
}

/// Registers the storage methods on the node's module.
pub fn register(m: &mut RpcModule<RpcContext>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method(
        "storage_allocation",
        |p, ctx, _| -> Result<Option<AllocationView>, ErrorObjectOwned> {
            let s: String = one_param(&p, "a content id (64 hex characters)")?;
            let id = parse_content_id(&s)?;
            let head = ctx.chain.head();
            let state = ctx.chain.store().state_at(head.height);
            Ok(storage::allocation(&state, &id)
                .map_err(internal)?
                .map(|a| AllocationView::new(&a, head.timestamp_ms)))
        },
    )?;
    m.register_blocking_method(
        "storage_list",
        |p, ctx, _| -> Result<Vec<AllocationView>, ErrorObjectOwned> {
            let s: String = one_param(&p, "an owner address")?;
            let owner = parse_address(&s)?;
            let head = ctx.chain.head();
            let state = ctx.chain.store().state_at(head.height);
            let mut out = Vec::new();
            for id in storage::contents_of(&state, &owner).map_err(internal)? {
                if let Some(a) = storage::allocation(&state, &id).map_err(internal)? {
                    out.push(AllocationView::new(&a, head.timestamp_ms));
                }
            }
            Ok(out)
        },
    )?;
    m.register_method(
        "storage_grant",
        |p, ctx, _| -> Result<Option<GrantView>, ErrorObjectOwned> {
            let (id, reader): (String, String) = second(&p, "a content id", "a reader address")?;
            let id = parse_content_id(&id)?;
            let reader = parse_address(&reader)?;
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            Ok(storage::grant(&state, &id, &reader)
                .map_err(internal)?
                .as_ref()
                .map(GrantView::from))
        },
    )?;
    m.register_blocking_method(
        "storage_grants",
        |p, ctx, _| -> Result<Vec<GrantView>, ErrorObjectOwned> {
            let s: String = one_param(&p, "a reader address")?;
            let reader = parse_address(&s)?;
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            let mut out = Vec::new();
            for id in storage::grants_to(&state, &reader).map_err(internal)? {
                if let Some(g) = storage::grant(&state, &id, &reader).map_err(internal)? {
                    out.push(GrantView::from(&g));
                }
            }
            Ok(out)
        },
    )?;
    m.register_method(
        "storage_nodes",
        |_, ctx, _| -> Result<Vec<StorageNodeView>, ErrorObjectOwned> {
            let state = ctx.chain.store().state_at(ctx.chain.head().height);
            Ok(storage::storage_nodes(&state)
                .map_err(internal)?
                .iter()
                .map(StorageNodeView::from)
                .collect())
        },
    )?;
    m.register_method(
        "storage_price",
        |p, ctx, _| -> Result<StoragePriceView, ErrorObjectOwned> {
            let req: StoragePriceRequest = one_param(
                &p,
                "an object {size, replicas, priority?, mode?, period_ms}",
            )
            .map_err(|e| err(ErrorCode::InvalidParams, e.message().to_string()))?;
            price(ctx.chain.params(), &req)
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_runtime::ChainParams;

    fn req(
        size: u64,
        replicas: u8,
        priority: u8,
        mode: &str,
        period_ms: u64,
    ) -> StoragePriceRequest {
        StoragePriceRequest {
            size,
            replicas,
            priority,
            mode: mode.into(),
            period_ms,
        }
    }

    #[test]
    fn price_quotes_follow_the_chain_rules() {
        let p = ChainParams::default();
        let month = 30 * 24 * 3_600_000;
        let v = price(&p, &req(1 << 30, 3, 1, "read-only", month)).unwrap();
        assert_eq!(v.blocks, 4096);
        assert_eq!(v.price, "8847360000");
        let v = price(&p, &req(0, 1, 3, "writable", 3_600_000)).unwrap();
        assert_eq!((v.blocks, v.price.as_str()), (1, "8000"));
        for bad in [
            req(1, 0, 1, "read-only", month),
            req(1, 9, 1, "read-only", month),
            req(1, 1, 4, "read-only", month),
            req(1, 1, 1, "sometimes", month),
            req(1, 1, 1, "read-only", 1),
            req(u64::MAX, 1, 1, "read-only", month),
        ] {
            let e = price(&p, &bad).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidParams.code(), "{bad:?}");
        }
    }
}
