//! PDFS on one node, end to end through the CLI and the HTTP gateway:
//! round trips at the block-size edges, sharing, range requests, the
//! ciphertext-only guarantee, refusal of unpaid content and garbage
//! collection of expired content; uploads staged before allocation:
//! signed, bounded, collected when abandoned, and a fallback when refused.

mod common;

use common::{Devnet, free_port, http_request, refused};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BLOCK: usize = 256 * 1024;

/// Deterministic bytes that never repeat a 16-byte window in practice.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A devnet whose chain lets content expire after a second, so garbage
/// collection can be observed.
fn devnet(dir: &Path) -> Devnet {
    let data = dir.join("chain");
    let port = free_port();
    let mut d = Devnet::start_with(&data, 100, port, &["--upkeep-secs", "1"]);
    d.terminate();
    let spec_path = data.join("spec.json");
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    spec["params"]["min_storage_period_ms"] = json!(1000);
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    for sub in ["db", "storage"] {
        let _ = std::fs::remove_dir_all(data.join(sub));
    }
    let d = Devnet::start_with(&data, 100, port, &["--upkeep-secs", "1"]);
    wait_until(30, "the devnet node registered as a storage node", || {
        d.rpc("storage_nodes", json!([]))["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    d
}

fn put(d: &Devnet, file: &Path, extra: &[&str]) -> String {
    let mut args = vec!["put", file.to_str().unwrap(), "--from", "dev:alice"];
    args.extend_from_slice(extra);
    let v = d.cli_json(&args);
    // These nodes stage uploads, so every put reads its file once.
    assert_eq!(v["one_pass"], json!(true), "{v}");
    v["content_id"].as_str().unwrap().to_string()
}

fn get(d: &Devnet, id: &str, out: &Path, from: &str) {
    d.cli_json(&["get", id, "-o", out.to_str().unwrap(), "--from", from]);
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// Every file under the node's storage directory: the block segments (each
/// holding many blocks) and the manifests (block ids only).
fn stored_files(d: &Devnet) -> Vec<Vec<u8>> {
    fn walk(p: &Path, out: &mut Vec<Vec<u8>>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(&d.dir.join("storage"), &mut out);
    out
}

/// Whether any 16-byte-aligned 16-byte window of `plain` appears anywhere
/// in `stored` (any leak of 31+ consecutive plaintext bytes contains one).
fn leaks(plain: &[u8], stored: &[Vec<u8>]) -> bool {
    let windows: HashSet<&[u8]> = plain.chunks_exact(16).collect();
    stored
        .iter()
        .any(|f| f.windows(16).any(|w| windows.contains(w)))
}

#[test]
fn content_round_trips_shares_streams_and_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = devnet(dir);

    // 1. Round trips at the block-size edges, encrypted and public.
    let big = pseudo_random(3 * BLOCK + 1, 7);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("empty", vec![], false),
        ("one", vec![42], false),
        ("block", pseudo_random(BLOCK, 3), false),
        ("many", big.clone(), false),
        ("public", pseudo_random(BLOCK + 5, 11), true),
    ];
    let mut ids = Vec::new();
    for (name, data, public) in &cases {
        let f = write(dir, name, data);
        let id = if *public {
            put(&d, &f, &["--public"])
        } else {
            put(&d, &f, &[])
        };
        let out = dir.join(format!("{name}.out"));
        get(&d, &id, &out, "dev:alice");
        assert_eq!(&std::fs::read(&out).unwrap(), data, "{name} round trip");
        ids.push(id);
    }
    let many_id = ids[3].clone();
    let public_id = ids[4].clone();

    // 2. The node only ever holds ciphertext of private content; the scan
    // does find public content, so it is able to fail.
    let stored = stored_files(&d);
    assert!(!leaks(&big, &stored), "plaintext found in the block store");
    assert!(
        leaks(&cases[4].1, &stored),
        "the scan must see public content"
    );

    // 3. Sharing: bob can read once granted, carol cannot.
    d.cli_json(&["box", "register-key", "--from", "dev:bob"]);
    let err = refused(
        &d,
        &[
            "get",
            &many_id,
            "-o",
            dir.join("bob.out").to_str().unwrap(),
            "--from",
            "dev:bob",
        ],
    );
    assert!(err.contains("no grant"), "{err}");
    d.cli_json(&["share", &many_id, "--to", "dev:bob", "--from", "dev:alice"]);
    get(&d, &many_id, &dir.join("bob.out"), "dev:bob");
    assert_eq!(std::fs::read(dir.join("bob.out")).unwrap(), big);
    let err = refused(
        &d,
        &[
            "get",
            &many_id,
            "-o",
            dir.join("carol.out").to_str().unwrap(),
            "--from",
            "dev:carol",
        ],
    );
    assert!(err.contains("no grant"), "{err}");
    let ls = d.cli_json(&["ls", "--owner", "dev:bob"]);
    assert_eq!(ls["shared_with_me"].as_array().unwrap().len(), 1, "{ls}");
    let ls = d.cli_json(&["ls", "--owner", "dev:alice"]);
    assert_eq!(ls["owned"].as_array().unwrap().len(), cases.len(), "{ls}");

    // 4. Range requests through the gateway return exactly the bytes asked.
    let key = d.cli_json(&["key", &many_id, "--from", "dev:bob"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/content/{many_id}");
    let n = big.len();
    for (range, from, to) in [
        ("bytes=0-9", 0, 10),
        ("bytes=262140-262150", 262_140, 262_151),
        ("bytes=786430-786432", 786_430, 786_433),
        (&format!("bytes={}-", n - 1) as &str, n - 1, n),
        ("bytes=-5", n - 5, n),
        ("bytes=100-99999999", 100, n),
    ] {
        let (status, head, body) = http_request(
            d.port,
            "GET",
            &path,
            &[("Range", range), ("X-Umbra-Key", &key)],
            b"",
        );
        assert_eq!(status, 206, "{range}: {head}");
        assert!(
            head.contains(&format!("content-range: bytes {from}-{}/{n}", to - 1)),
            "{range}: {head}"
        );
        assert_eq!(body, &big[from..to], "{range}");
    }
    let (status, head, body) = http_request(
        d.port,
        "GET",
        &format!("{path}?key={key}&type=video/mp4"),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(body, big);
    assert!(head.contains("content-type: video/mp4"), "{head}");
    // Stored content never runs as a page on the RPC origin.
    let (_, head, _) = http_request(
        d.port,
        "HEAD",
        &format!("{path}?key={key}&type=text/html"),
        &[],
        b"",
    );
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    let (status, head, _) = http_request(
        d.port,
        "GET",
        &path,
        &[("Range", &format!("bytes={n}-")), ("X-Umbra-Key", &key)],
        b"",
    );
    assert_eq!(status, 416, "{head}");
    assert!(
        head.contains(&format!("content-range: bytes */{n}")),
        "{head}"
    );
    let (status, _, _) = http_request(d.port, "GET", &path, &[], b"");
    assert_eq!(status, 403, "encrypted content without a key");
    let (status, _, body) = http_request(
        d.port,
        "GET",
        &format!("/content/{public_id}"),
        &[("Range", "bytes=3-6")],
        b"",
    );
    assert_eq!((status, body.as_slice()), (206, &cases[4].1[3..7]));
    // A wrong key fails the stream instead of returning garbage.
    let wrong = "00".repeat(32);
    let (status, _, body) = http_request(d.port, "GET", &path, &[("X-Umbra-Key", &wrong)], b"");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));

    // 5. Content nobody paid for is refused.
    let unpaid = dir.join("unpaid");
    std::fs::write(&unpaid, pseudo_random(1000, 99)).unwrap();
    let fake_id = "ab".repeat(32);
    let (status, _, body) = http_request(
        d.port,
        "PUT",
        &format!("/content/{fake_id}/blocks/0"),
        &[],
        b"hello",
    );
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = http_request(
        d.port,
        "POST",
        &format!("/content/{fake_id}/manifest"),
        &[],
        b"\x01garbage",
    );
    assert!(
        status == 404 || status == 422,
        "{status} {}",
        String::from_utf8_lossy(&body)
    );
    // A block that is not the one the manifest lists is refused too.
    let (status, _, _) = http_request(
        d.port,
        "PUT",
        &format!("/content/{many_id}/blocks/0"),
        &[],
        &big[..BLOCK],
    );
    assert_eq!(status, 422);

    // 6. Expired content is collected from the block store.
    let short = write(dir, "short", &pseudo_random(2 * BLOCK, 5));
    let short_id = put(&d, &short, &["--period", "2s"]);
    let local = |id: &str| {
        let (_, _, body) = http_request(d.port, "GET", &format!("/content/{id}/local"), &[], b"");
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    assert_eq!(local(&short_id)["blocks"].as_array().unwrap().len(), 2);
    wait_until(30, "expired content collected", || {
        local(&short_id)["manifest"] == json!(false)
    });
    assert_eq!(local(&short_id)["blocks"].as_array().unwrap().len(), 0);
    // Live content is untouched by the collection.
    assert_eq!(local(&many_id)["blocks"].as_array().unwrap().len(), 4);
    let alloc = d.rpc("storage_allocation", json!([short_id]))["result"].clone();
    assert_eq!(alloc["expired"], json!(true), "{alloc}");

    // Anyone may clear an expired allocation off the chain; live content
    // cannot be collected.
    let err = refused(&d, &["collect", &many_id, "--from", "dev:carol"]);
    assert!(err.contains("live until"), "{err}");
    d.cli_json(&["collect", &short_id, "--from", "dev:carol"]);
    let alloc = d.rpc("storage_allocation", json!([short_id]))["result"].clone();
    assert!(alloc.is_null(), "{alloc}");
}

/// The digital-commerce flow: a shop box takes the price through its gate,
/// and the seller's `fulfil` grants the key only to buyers the chain says
/// have paid.
#[test]
fn content_is_sold_through_a_paying_box() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = devnet(dir);
    let data = pseudo_random(2 * BLOCK + 3, 21);
    let id = put(&d, &write(dir, "film", &data), &[]);

    let sale = d.cli_json(&["sell", &id, "--price", "5", "--from", "dev:alice"]);
    let shop = sale["box"].as_str().unwrap().to_string();
    assert_eq!(sale["price"], json!("5000000000"), "{sale}");
    // Selling again is idempotent: the same box, still one listing.
    d.cli_json(&["sell", &id, "--price", "5", "--from", "dev:alice"]);

    // Carol orders (registering her encryption key on the way) and pays.
    let balance = |who: &str| -> u128 {
        d.cli_json(&["balance", who])["balance"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = balance("dev:carol");
    let order = d.cli_json(&["buy", &shop, "--from", "dev:carol"]);
    assert_eq!(order["paid"], json!("5000000000"), "{order}");
    assert_eq!(order["granted"], json!(false), "{order}");
    assert!(before - balance("dev:carol") >= 5_000_000_000);
    let out = dir.join("carol.film");
    let no_grant = refused(
        &d,
        &[
            "get",
            &id,
            "-o",
            out.to_str().unwrap(),
            "--from",
            "dev:carol",
        ],
    );
    assert!(no_grant.contains("no grant"), "{no_grant}");

    // An order that came in while the box was free is not paid for: the
    // seller's gate, not the message, decides.
    d.cli_json(&[
        "box",
        "gate",
        &shop,
        "--kind",
        "write",
        "--template",
        "anyone",
        "--from",
        "dev:alice",
    ]);
    d.cli_json(&[
        "box",
        "push",
        &shop,
        "--text",
        &format!("order {id}"),
        "--from",
        "dev:dave",
    ]);
    d.cli_json(&["box", "register-key", "--from", "dev:dave"]);
    d.cli_json(&["sell", &id, "--price", "5", "--from", "dev:alice"]);

    let served = d.cli_json(&["fulfil", &shop, "--from", "dev:alice"]);
    let granted = served["granted"].as_array().unwrap();
    assert_eq!(granted.len(), 1, "{served}");
    assert_eq!(
        granted[0]["reader"],
        json!(d.cli_json(&["keys", "show", "dev:carol"])["address"]),
        "{served}"
    );
    let skipped = served["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{served}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("not paid"),
        "{served}"
    );

    get(&d, &id, &out, "dev:carol");
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let err = refused(
        &d,
        &[
            "get",
            &id,
            "-o",
            dir.join("dave.film").to_str().unwrap(),
            "--from",
            "dev:dave",
        ],
    );
    assert!(err.contains("no grant"), "{err}");

    // Carol's order was consumed; buying again neither charges nor waits.
    let again = d.cli_json(&["buy", &shop, "--from", "dev:carol", "--wait", "5"]);
    assert_eq!(again["paid"], json!("0"), "{again}");
    assert_eq!(again["granted"], json!(true), "{again}");
    let left = d.rpc("box_messages", json!([shop, 0, 100]))["result"]["messages"].clone();
    let from_carol = left
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.starts_with("order")))
        .count();
    assert_eq!(from_carol, 1, "only dave's unpaid order is left: {left}");

    // Anyone may pay to keep it longer: a day more from its expiry.
    let r = d.cli_json(&["renew", &id, "--period", "1d", "--from", "dev:dave"]);
    let gained = r["expires_ms"].as_u64().unwrap() - r["previous_expires_ms"].as_u64().unwrap();
    assert_eq!(gained, 86_400_000, "{r}");
    let err = refused(
        &d,
        &[
            "renew",
            &id,
            "--period",
            "1d",
            "--from",
            "dev:dave",
            "--max-price",
            "0.000000001",
        ],
    );
    assert!(err.contains("over --max-price"), "{err}");
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn ticket(
    kp: &umbra_crypto::Keypair,
    size: u64,
    timestamp_ms: u64,
    node: &str,
) -> umbra_pdfs::StageTicket {
    let mut t = umbra_pdfs::StageTicket {
        owner: kp.public(),
        size,
        timestamp_ms,
        node: node.as_bytes().to_vec(),
        signature: Default::default(),
    };
    t.signature = kp.sign_hash(&t.digest());
    t
}

/// Staging is the one way to store blocks of content nobody has paid for
/// yet, so its limits are tested from outside: only a signed, current
/// ticket for this node from an account that could pay opens a session; a
/// session holds only what its ticket allows and only blocks that hash to
/// the id given; its blocks survive garbage collection while it is used and
/// go once it is abandoned. A node that will not stage still stores.
#[test]
fn staged_uploads_are_signed_bounded_and_collected_when_abandoned() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("chain");
    let port = free_port();
    let mut d = Devnet::start_with(
        &data,
        100,
        port,
        &["--upkeep-secs", "1", "--stage-idle-secs", "3"],
    );
    wait_until(30, "the devnet node registered as a storage node", || {
        d.rpc("storage_nodes", json!([]))["result"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    let (_, _, body) = http_request(d.port, "GET", "/uploads", &[], b"");
    let node = serde_json::from_slice::<Value>(&body).unwrap()["node"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = umbra_crypto::dev_keypair("alice");
    let open = |body: &[u8]| {
        let (status, _, body) = http_request(d.port, "POST", "/uploads", &[], body);
        (status, String::from_utf8_lossy(&body).into_owned())
    };

    // Refused: a forged field, another node, an old ticket, an account that
    // could not pay, garbage, and a body longer than any ticket.
    let mut forged = ticket(&alice, 1000, now_ms(), &node);
    forged.size = 1 << 30;
    let (status, why) = open(&forged.encode());
    assert_eq!(status, 403, "{why}");
    assert!(why.contains("signature"), "{why}");
    let (status, why) = open(&ticket(&alice, 1000, now_ms(), "12D3KooWElsewhere").encode());
    assert_eq!(status, 403, "{why}");
    let (status, why) = open(&ticket(&alice, 1000, now_ms() - 3_600_000, &node).encode());
    assert_eq!(status, 403, "{why}");
    let pauper = umbra_crypto::Keypair::generate();
    let (status, why) = open(&ticket(&pauper, 1000, now_ms(), &node).encode());
    assert_eq!(status, 402, "{why}");
    assert_eq!(open(b"garbage").0, 400);
    assert_eq!(open(&[0u8; 1000]).0, 413);

    // A session for 1,000 bytes; its ticket opens no other.
    let good = ticket(&alice, 1000, now_ms(), &node).encode();
    let (status, body) = open(&good);
    assert_eq!(status, 200, "{body}");
    let (status, why) = open(&good);
    assert_eq!(status, 403, "a replayed ticket: {why}");
    let opened: Value = serde_json::from_str(&body).unwrap();
    let token = opened["token"].as_str().unwrap().to_string();
    assert_eq!(opened["reserved"], json!(1016), "{opened}");
    let staging = || {
        let (_, _, body) = http_request(d.port, "GET", "/uploads", &[], b"");
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let before = staging()["store_blocks"].as_u64().unwrap();
    let block = pseudo_random(1000, 41);
    let id = umbra_types::sha256(&block).to_string();
    let stage = |token: &str, id: &str, bytes: &[u8]| {
        let (status, _, body) = http_request(
            d.port,
            "PUT",
            &format!("/uploads/{token}/blocks/{id}"),
            &[],
            bytes,
        );
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let other = umbra_types::sha256(b"another block").to_string();
    assert_eq!(
        stage(&token, &other, &block).0,
        400,
        "a block under a false id"
    );
    let (status, body) = stage(&token, &id, &block);
    assert_eq!(status, 200, "{body}");
    let staged: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (staged["block"].as_str(), staged["stored"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    let s = staging();
    assert_eq!(s["store_blocks"].as_u64(), Some(before + 1), "{s}");
    assert_eq!(
        (s["sessions"].as_u64(), s["used"].as_u64()),
        (Some(1), Some(1000)),
        "{s}"
    );
    // Past what the ticket allows.
    let (status, why) = stage(
        &token,
        &umbra_types::sha256(&[1; 100]).to_string(),
        &[1; 100],
    );
    assert_eq!(status, 507, "{why}");
    assert_eq!(
        stage(&"0".repeat(32), &id, &block).0,
        404,
        "an unknown session"
    );

    // While the session is used, garbage collection (every second) spares
    // its block, which no manifest refers to.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(1000));
        let (status, body) = stage(&token, &id, &block);
        assert_eq!(status, 200, "{body}");
        assert_eq!(staging()["store_blocks"].as_u64(), Some(before + 1));
    }
    // Abandoned, it ends and its block is collected.
    wait_until(30, "the abandoned staged block collected", || {
        let s = staging();
        s["sessions"] == json!(0) && s["store_blocks"].as_u64() == Some(before)
    });
    assert_eq!(stage(&token, &id, &block).0, 404, "an ended session");
    // Its ticket, still within its time, opens no new session either.
    let (status, why) = open(&good);
    assert_eq!(
        status, 403,
        "a ticket replayed after its session ended: {why}"
    );

    // A session stages at most its content's number of blocks, however
    // small: a 1,000-byte content is one block.
    let (status, body) = open(&ticket(&alice, 1000, now_ms(), &node).encode());
    assert_eq!(status, 200, "{body}");
    let small = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let tiny = |b: &[u8]| stage(&small, &umbra_types::sha256(b).to_string(), b);
    assert_eq!(tiny(b"abc").0, 200);
    let (status, why) = tiny(b"xyz");
    assert_eq!(status, 507, "{why}");
    assert!(why.contains("blocks are used up"), "{why}");

    // A node whose sessions end at once cannot stage: `put` reads the file
    // twice instead, says why, and the content still round-trips.
    d.terminate();
    let d = Devnet::start_with(&data, 100, port, &["--stage-idle-secs", "0"]);
    let file = write(tmp.path(), "fallback", &pseudo_random(BLOCK + 3, 8));
    let v = d.cli_json(&["put", file.to_str().unwrap(), "--from", "dev:alice"]);
    assert_eq!(v["one_pass"], json!(false), "{v}");
    assert!(
        v["two_pass_reason"]
            .as_str()
            .is_some_and(|r| r.contains("no upload session")),
        "{v}"
    );
    let fallback_id = v["content_id"].as_str().unwrap();
    let out = tmp.path().join("fallback.out");
    get(&d, fallback_id, &out, "dev:alice");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());

    // A manifest naming a session that is not open places nothing: every
    // block is reported missing, for its owner to upload the ordinary way.
    let path = format!("/content/{fallback_id}/manifest");
    let (status, _, manifest) = http_request(d.port, "GET", &path, &[], b"");
    assert_eq!(status, 200);
    let (status, _, body) = http_request(
        d.port,
        "POST",
        &format!("{path}?upload={token}"),
        &[],
        &manifest,
    );
    let placed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["missing"], json!([0, 1]), "{placed}");
    let (status, _, _) = http_request(
        d.port,
        "POST",
        &format!("{path}?upload=nope"),
        &[],
        &manifest,
    );
    assert_eq!(status, 400);
}
