//! `chain_subscribeHeads` over WebSocket on the same port as HTTP.

mod common;

use common::*;
use jsonrpsee_core::client::{Subscription, SubscriptionClientT};
use jsonrpsee_core::rpc_params;
use jsonrpsee_ws_client::WsClientBuilder;
use umbra_rpc::HeaderView;

#[test]
fn heads_are_pushed_to_subscribers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join("chain"), 100);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ws = WsClientBuilder::default()
            .build(format!("ws://127.0.0.1:{}", d.port))
            .await
            .unwrap();
        let mut sub: Subscription<HeaderView> = ws
            .subscribe(
                "chain_subscribeHeads",
                rpc_params![],
                "chain_unsubscribeHeads",
            )
            .await
            .unwrap();
        let mut last: Option<HeaderView> = None;
        for _ in 0..4 {
            let h = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Some(prev) = &last {
                assert_eq!(h.height, prev.height + 1);
                assert_eq!(h.parent_hash, prev.hash);
            }
            last = Some(h);
        }
    });
}
