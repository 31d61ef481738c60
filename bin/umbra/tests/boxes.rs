//! Boxes end to end on a real devnet: the CLI, the RPC, the seed's use cases
//! (the scripts in `examples/`), and the exploits suite.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;
use umbra_crypto::dev_keypair;
use umbra_types::{
    GateKind, MessageBody, Payload, RefBlock, Transaction, UnsignedTransaction, encode,
};

fn nonce(d: &Devnet, who: &str) -> u64 {
    d.cli_json(&["balance", who])["nonce"].as_u64().unwrap()
}

/// Signs a box call as `who`'s next transaction.
fn signed(d: &Devnet, who: &str, payload: Payload) -> Transaction {
    let k = dev_keypair(who);
    let head = d.rpc("chain_head", json!([]))["result"].clone();
    let acct = d.rpc("state_account", json!([k.address().to_bech32()]))["result"].clone();
    let hash: umbra_types::Hash = head["hash"].as_str().unwrap().parse().unwrap();
    k.sign_transaction(UnsignedTransaction {
        chain_id: d.banner["chain_id"].as_u64().unwrap(),
        sender: k.public(),
        nonce: acct["pending_nonce"].as_u64().unwrap(),
        ref_block: RefBlock::new(head["height"].as_u64().unwrap(), &hash),
        max_fee: 100_000_000,
        payload,
    })
}

fn hex_of(t: &Transaction) -> String {
    hex::encode(encode(t))
}

/// Submits through `tx_submit` (no preview) and waits for the receipt.
fn submit_raw(d: &Devnet, t: &Transaction) -> Value {
    let r = d.rpc("tx_submit", json!([hex_of(t)]));
    let hash = r["result"]
        .as_str()
        .unwrap_or_else(|| panic!("submit failed: {r}"))
        .to_string();
    for _ in 0..200 {
        let l = d.rpc("chain_tx", json!([hash]))["result"].clone();
        if l["status"] == "included" {
            return l["receipt"].clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{hash} not included");
}

fn start(name: &str) -> (tempfile::TempDir, Devnet) {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join(name), 200);
    d.wait_height(1, Duration::from_secs(20));
    (tmp, d)
}

#[test]
fn email_flow_through_the_cli_with_encryption_and_an_autoresponder() {
    let (_t, d) = start("email");
    d.cli_json(&["box", "create", "alice_in", "--from", "dev:alice"]);
    d.cli_json(&["box", "create", "alice_out", "--from", "dev:alice"]);
    d.cli_json(&["box", "register-key", "--from", "dev:alice"]);
    d.cli_json(&[
        "box",
        "gate",
        "alice_in",
        "--kind",
        "write",
        "--template",
        "anyone",
        "--from",
        "dev:alice",
    ]);
    d.cli_json(&[
        "box",
        "gate",
        "alice_in",
        "--kind",
        "read",
        "--template",
        "owner-only",
        "--from",
        "dev:alice",
    ]);
    let pushed = d.cli_json(&[
        "box",
        "push",
        "alice_in",
        "--text",
        "secret lunch plans",
        "--encrypt-to",
        "dev:alice",
        "--from",
        "dev:bob",
    ]);
    assert_eq!(pushed["receipt"]["status"], "success", "{pushed}");
    // On chain the body is ciphertext: anyone can fetch it, nobody but alice reads it.
    let page = d.cli_json(&["box", "messages", "alice_in"]);
    let stored = page["messages"][0]["data"].as_str().unwrap();
    assert!(
        !hex::decode(stored)
            .unwrap()
            .windows(6)
            .any(|w| w == b"secret")
    );
    let read = d.cli_json(&[
        "box",
        "pull",
        "alice_in",
        "--decrypt",
        "--from",
        "dev:alice",
    ]);
    assert_eq!(read["message"]["text"], "secret lunch plans");
    // Bob is refused before anything is charged.
    let (b0, n0) = (balance(&d, "dev:bob"), nonce(&d, "dev:bob"));
    let err = refused(&d, &["box", "pull", "alice_in", "--from", "dev:bob"]);
    assert!(err.contains("refused") && err.contains("1018"), "{err}");
    assert_eq!((balance(&d, "dev:bob"), nonce(&d, "dev:bob")), (b0, n0));
    // Decrypting with the wrong key fails with a clear error.
    d.cli_json(&[
        "box",
        "gate",
        "alice_in",
        "--kind",
        "read",
        "--template",
        "anyone",
        "--from",
        "dev:alice",
    ]);
    let err = refused(
        &d,
        &["box", "pull", "alice_in", "--decrypt", "--from", "dev:bob"],
    );
    assert!(err.contains("not encrypted to"), "{err}");
    // Autoresponder.
    d.cli_json(&[
        "box",
        "gate",
        "alice_in",
        "--kind",
        "write",
        "--template",
        "autoresponder",
        "--outbox",
        "alice_out",
        "--reply",
        " away",
        "--from",
        "dev:alice",
    ]);
    d.cli_json(&[
        "box",
        "push",
        "alice_in",
        "--text",
        "hello?",
        "--from",
        "dev:carol",
    ]);
    let out = d.cli_json(&["box", "messages", "alice_out"]);
    let reply = hex::decode(out["messages"][0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(&reply[..32], &dev_keypair("carol").address().0);
    assert_eq!(&reply[32..], b" away");
    let info = d.cli_json(&["box", "info", "alice_in"]);
    assert_eq!(info["messages"], 2);
    let listed = d.cli_json(&["box", "ls", "--owner", "dev:alice"]);
    assert_eq!(listed["boxes"].as_array().unwrap().len(), 2);
}

#[test]
fn pay_once_splits_95_5_and_charges_once() {
    let (_t, d) = start("paid");
    d.cli_json(&["box", "create", "shop", "--from", "dev:alice"]);
    d.cli_json(&[
        "box",
        "push",
        "shop",
        "--text",
        "item",
        "--from",
        "dev:alice",
    ]);
    d.cli_json(&[
        "box",
        "gate",
        "shop",
        "--kind",
        "read",
        "--template",
        "pay-once",
        "--price",
        "2",
        "--from",
        "dev:alice",
    ]);
    let insp = d.cli_json(&["box", "inspect", "shop", "--caller", "dev:bob"]);
    let read = &insp["gates"][0];
    assert_eq!(read["kind"], "read");
    assert_eq!(read["token_cost"], "2000000000");
    assert!(read["gas_bound"].as_u64().unwrap() > 0);
    let (a0, b0) = (balance(&d, "dev:alice"), balance(&d, "dev:bob"));
    let pull = d.cli_json(&["box", "pull", "shop", "--from", "dev:bob"]);
    assert_eq!(pull["paid"], "2000000000");
    let fee: u128 = d.rpc("chain_tx", json!([pull["tx"]]))["result"]["receipt"]["fee_paid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(balance(&d, "dev:bob"), b0 - 2_000_000_000 - fee);
    assert_eq!(balance(&d, "dev:alice"), a0 + 1_900_000_000);
    let again = d.cli_json(&["box", "pull", "shop", "--from", "dev:bob"]);
    assert_eq!(again["paid"], "0");
    let insp = d.cli_json(&["box", "inspect", "shop", "--caller", "dev:bob"]);
    assert_eq!(insp["gates"][0]["token_cost"], "0");
}

#[test]
fn exploits_are_refused_and_nobody_is_charged_wrongly() {
    let (_t, d) = start("exploits");
    d.cli_json(&["box", "create", "vault", "--from", "dev:alice"]);
    d.cli_json(&[
        "box",
        "push",
        "vault",
        "--text",
        "gold",
        "--from",
        "dev:alice",
    ]);
    d.cli_json(&[
        "box",
        "gate",
        "vault",
        "--kind",
        "read",
        "--template",
        "pay-once",
        "--price",
        "5",
        "--from",
        "dev:alice",
    ]);

    // Writing without passing the gate, straight to tx_submit (no preview):
    // included, failed, fee only; the owner gets nothing.
    let (a0, b0) = (balance(&d, "dev:alice"), balance(&d, "dev:bob"));
    let t = signed(
        &d,
        "bob",
        Payload::BoxPush {
            name: "vault".into(),
            body: MessageBody::Data(b"x".to_vec()),
        },
    );
    let r = submit_raw(&d, &t);
    assert_eq!(r["status"], "failed");
    assert_eq!(r["fail_code"], 14, "{r}");
    let fee: u128 = r["fee_paid"].as_str().unwrap().parse().unwrap();
    assert_eq!(balance(&d, "dev:bob"), b0 - fee);
    assert_eq!(balance(&d, "dev:alice"), a0);
    assert_eq!(d.cli_json(&["box", "info", "vault"])["messages"], 1);

    // Reading a pay-once item without paying: an account that cannot pay.
    let poor = umbra_crypto::Keypair::from_seed([42; 32]);
    let poor_file = d.dir.with_extension("poor.key");
    umbra_node::save_key(&poor_file, &poor).unwrap();
    let poor_path = poor_file.to_str().unwrap();
    d.cli_json(&[
        "transfer",
        "--from",
        "dev:bob",
        "--to",
        &poor.address().to_bech32(),
        "--amount",
        "1",
        "--wait",
    ]);
    let p0 = balance(&d, &poor.address().to_bech32());
    let err = refused(&d, &["box", "pull", "vault", "--from", poor_path]);
    assert!(err.contains("cannot pay"), "{err}");
    assert_eq!(balance(&d, &poor.address().to_bech32()), p0);

    // Gate scripts that try to loop: the assembler has no backward jump.
    let dir = d.dir.with_extension("gates");
    std::fs::create_dir_all(&dir).unwrap();
    let looping = dir.join("loop.gate");
    std::fs::write(&looping, "top:\nPUSHX 1\nPUSHX 0\nSKIP top\nOK\n").unwrap();
    let out = Command::new(BIN)
        .args(["gate", "check", looping.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4") && err.contains("forward"), "{err}");
    // …and hand-made bytecode with a jump past the end does not decode.
    let bad = Payload::BoxSetGate {
        name: "vault".into(),
        kind: GateKind::Write,
        code: vec![0x40, 0xff, 0xff],
    };
    let r = d.rpc("box_setGate", json!([hex_of(&signed(&d, "alice", bad))]));
    assert_eq!(r["error"]["code"], 1017, "{r}");

    // Recursion: a gate that CALLs its own box (not older than itself).
    d.cli_json(&["box", "create", "selfcall", "--from", "dev:carol"]);
    d.cli_json(&[
        "box",
        "push",
        "selfcall",
        "--text",
        "m",
        "--from",
        "dev:carol",
    ]);
    let rec = dir.join("rec.gate");
    std::fs::write(&rec, "PUSHDATA \"selfcall\"\nCALL 5000\nRET\n").unwrap();
    d.cli_json(&[
        "box",
        "gate",
        "selfcall",
        "--kind",
        "read",
        "--file",
        rec.to_str().unwrap(),
        "--from",
        "dev:carol",
    ]);
    let err = refused(&d, &["box", "pull", "selfcall", "--from", "dev:carol"]);
    assert!(err.contains("older"), "{err}");

    // Overflow: 2^255 - 1 + 1.
    let ovf = dir.join("ovf.gate");
    // `.gate` hex is two's complement, most significant byte first.
    let max = "0x7f".to_string() + "ff".repeat(31).as_str();
    std::fs::write(&ovf, format!("PUSHX {max}\nPUSHX 1\nADD\nRET\n")).unwrap();
    d.cli_json(&[
        "box",
        "gate",
        "selfcall",
        "--kind",
        "read",
        "--file",
        ovf.to_str().unwrap(),
        "--from",
        "dev:carol",
    ]);
    let err = refused(&d, &["box", "pull", "selfcall", "--from", "dev:carol"]);
    assert!(err.to_lowercase().contains("overflow"), "{err}");

    // Exhausting gas: a gate whose bound is over the chain's limit is refused
    // before it is stored.
    let mut src = String::new();
    for _ in 0..3 {
        src.push_str("PUSHDATA \"vault\"\nCALL 1000000\nDROP\n");
    }
    src.push_str("OK\n");
    let heavy = dir.join("heavy.gate");
    std::fs::write(&heavy, &src).unwrap();
    let err = refused(
        &d,
        &[
            "box",
            "gate",
            "selfcall",
            "--kind",
            "read",
            "--file",
            heavy.to_str().unwrap(),
            "--from",
            "dev:carol",
        ],
    );
    assert!(err.contains("gas bound") && err.contains("1017"), "{err}");

    // Oversized script and message.
    let big = Payload::BoxSetGate {
        name: "vault".into(),
        kind: GateKind::Write,
        code: vec![0x42; 33 * 1024],
    };
    let r = d.rpc("box_setGate", json!([hex_of(&signed(&d, "alice", big))]));
    assert_eq!(r["error"]["code"], 1017, "{r}");
    let huge = "y".repeat(9000);
    let err = refused(
        &d,
        &[
            "box",
            "push",
            "vault",
            "--text",
            &huge,
            "--from",
            "dev:alice",
        ],
    );
    assert!(err.contains("over the limit"), "{err}");

    // Look-alike names.
    for name in [
        "vau1t",
        "vau_lt",
        "VAULT",
        "v\u{0430}ult",
        "1vault",
        "genesis",
    ] {
        let err = refused(&d, &["box", "create", name, "--from", "dev:bob"]);
        assert!(
            err.contains(name) || err.contains("U+0430") || err.contains("reserved"),
            "{name}: {err}"
        );
    }
    // A box method given another kind of transaction.
    let t = signed(
        &d,
        "bob",
        Payload::Transfer {
            to: dev_keypair("carol").address(),
            amount: 1,
        },
    );
    let r = d.rpc("box_push", json!([hex_of(&t)]));
    assert_eq!(r["error"]["code"], 1019, "{r}");
}

#[test]
fn the_examples_run_against_a_devnet() {
    let (_t, d) = start("examples");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for ex in ["email.sh", "newsletter.sh", "paid_content.sh", "oracle.sh"] {
        let out = Command::new("bash")
            .arg(root.join(ex))
            .env("UMBRA", BIN)
            .env("UMBRA_RPC", &d.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{ex} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
