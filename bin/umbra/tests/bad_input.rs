//! Every kind of bad input gets its documented error code, and the node keeps
//! producing blocks.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use umbra_crypto::{Keypair, dev_keypair};
use umbra_types::{Hash, Payload, RefBlock, Transaction, UnsignedTransaction, encode};

struct Ctx<'a> {
    d: &'a Devnet,
    chain_id: u64,
}

impl Ctx<'_> {
    fn head(&self) -> (u64, Hash) {
        let h = self.d.rpc("chain_head", json!([]))["result"].clone();
        (
            h["height"].as_u64().unwrap(),
            h["hash"].as_str().unwrap().parse().unwrap(),
        )
    }

    fn tx(
        &self,
        k: &Keypair,
        nonce: u64,
        edit: impl FnOnce(&mut UnsignedTransaction),
    ) -> Transaction {
        let (h, hash) = self.head();
        let mut u = UnsignedTransaction {
            chain_id: self.chain_id,
            sender: k.public(),
            nonce,
            ref_block: RefBlock::new(h, &hash),
            max_fee: 1_000_000,
            payload: Payload::Transfer {
                to: dev_keypair("bob").address(),
                amount: 1,
            },
        };
        edit(&mut u);
        k.sign_transaction(u)
    }

    fn submit_hex(&self, hex: &str) -> serde_json::Value {
        self.d.rpc("tx_submit", json!([hex]))
    }

    fn submit(&self, tx: &Transaction) -> serde_json::Value {
        self.submit_hex(&hex::encode(encode(tx)))
    }
}

fn code(v: &serde_json::Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
}

#[test]
fn bad_inputs_get_documented_errors_and_the_node_keeps_going() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join("chain"), 50);
    let chain_id = d.banner["chain_id"].as_u64().unwrap();
    let c = Ctx { d: &d, chain_id };
    let alice = dev_keypair("alice");

    // Malformed hex.
    assert_eq!(code(&c.submit_hex("zz-not-hex")), 1001);
    // Truncated borsh.
    let good = c.tx(&alice, 0, |_| {});
    let bytes = encode(&good);
    assert_eq!(
        code(&c.submit_hex(&hex::encode(&bytes[..bytes.len() - 10]))),
        1002
    );
    // Trailing garbage.
    let mut extra = bytes.clone();
    extra.push(0);
    assert_eq!(code(&c.submit_hex(&hex::encode(&extra))), 1002);
    // Bad signature.
    let mut forged = good.clone();
    forged.signature.0[10] ^= 0x40;
    assert_eq!(code(&c.submit(&forged)), 1004);
    // Someone else's signature on alice's transaction.
    let mut stolen = good.clone();
    stolen.signature = dev_keypair("mallory").sign_hash(&good.signing_hash());
    assert_eq!(code(&c.submit(&stolen)), 1004);
    // Wrong chain id.
    assert_eq!(
        code(&c.submit(&c.tx(&alice, 0, |u| u.chain_id = chain_id + 1))),
        1005
    );
    // Unknown reference block (hash prefix does not match).
    assert_eq!(
        code(&c.submit(&c.tx(&alice, 0, |u| u.ref_block.hash_prefix = [1, 2, 3, 4]))),
        1007
    );
    // Fee below the chain's fee.
    assert_eq!(code(&c.submit(&c.tx(&alice, 0, |u| u.max_fee = 10))), 1010);
    // Insufficient balance.
    let broke = Keypair::from_seed([42; 32]);
    assert_eq!(code(&c.submit(&c.tx(&broke, 0, |_| {}))), 1009);
    // Oversize transaction (checked before the hex is decoded).
    assert_eq!(code(&c.submit_hex(&"ab".repeat(50_000))), 1003);

    // A good one goes in; the same again is a known transaction; replayed after inclusion, a low nonce.
    // Both copies in one batch, so no block can include the first in
    // between (with 50 ms blocks a second call could see it included).
    let h = hex::encode(encode(&good));
    let both = d.rpc("tx_submitBatch", json!([[h, h]]));
    let hash = both["result"][0]["hash"]
        .as_str()
        .unwrap_or_else(|| panic!("good tx refused: {both}"))
        .to_string();
    assert_eq!(both["result"][1]["error"]["code"], 1012, "{both}");
    let start = std::time::Instant::now();
    while d.rpc("chain_tx", json!([hash]))["result"]["status"] != "included" {
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(code(&c.submit(&good)), 1006);
    // A same-nonce replacement with an equal fee.
    let next = c.tx(&alice, 5, |_| {});
    assert!(c.submit(&next)["result"].is_string());
    assert_eq!(
        code(
            &c.submit(&c.tx(&alice, 5, |u| u.payload = Payload::Transfer {
                to: alice.address(),
                amount: 2
            }))
        ),
        1011
    );
    // Nonce too far ahead.
    assert_eq!(code(&c.submit(&c.tx(&alice, 100_000, |_| {}))), 1015);

    // Expired reference block: wait until the genesis-era block is more than 64 blocks back.
    let h1: Hash = d.rpc("chain_block", json!([1]))["result"]["header"]["hash"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expired = c.tx(&dev_keypair("bob"), 0, |u| {
        u.ref_block = RefBlock::new(1, &h1)
    });
    d.wait_height(70, Duration::from_secs(60));
    assert_eq!(code(&c.submit(&expired)), 1008);

    // RPC-level errors.
    assert_eq!(code(&d.rpc("no_such_method", json!([]))), -32601);
    assert_eq!(code(&d.rpc("chain_tx", json!(["xyz"]))), 2004);
    assert_eq!(code(&d.rpc("state_account", json!(["umb1nope"]))), 2003);
    assert_eq!(code(&d.rpc("chain_block", json!([99_999_999]))), 2001);
    assert_eq!(code(&d.rpc("tx_submit", json!([]))), -32602);
    let (status, body) = http_post(d.port, b"{this is not json");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .map(|v| code(&v))
            .unwrap_or(0),
        -32700,
        "status {status}"
    );
    let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "tx_submit", "params": ["ab".repeat(3 * 1024 * 1024)]}).to_string();
    let (status, body) = http_post(d.port, huge.as_bytes());
    assert_eq!(status, 413, "oversize request: {body}");
    assert_eq!(code(&serde_json::from_str(&body).unwrap()), -32007);

    // Still producing.
    let h = d.height();
    d.wait_height(h + 5, Duration::from_secs(20));
}
