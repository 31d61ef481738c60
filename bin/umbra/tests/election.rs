//! Miner elections end to end on a devnet, through the CLI and the RPC.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use umbra_crypto::dev_keypair;

fn candidates(d: &Devnet) -> Value {
    d.cli_json(&["election", "list"])
}

fn row<'a>(list: &'a Value, who: &str) -> &'a Value {
    let key = dev_keypair(who).public().to_hex();
    list["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key.as_str())
        .unwrap_or_else(|| panic!("{who} is not in {list}"))
}

fn fee(receipt: &Value) -> u128 {
    receipt["receipt"]["fee_paid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn announce_vote_withdraw_quit_and_the_elected_set() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Devnet::start(&tmp.path().join("election"), 200);
    d.wait_height(1, Duration::from_secs(20));

    let empty = candidates(&d);
    assert_eq!(empty["candidates"], json!([]));
    let deposit: u128 = empty["deposit"].as_str().unwrap().parse().unwrap();
    let miners = empty["miners"].as_u64().unwrap() as usize;
    assert!(deposit > 0 && miners > 0);

    let before = balance(&d, "dev:alice");
    let r = d.cli_json(&["election", "announce", "--from", "dev:alice"]);
    assert_eq!(r["receipt"]["status"], "success", "{r}");
    assert_eq!(balance(&d, "dev:alice"), before - deposit - fee(&r));
    let list = candidates(&d);
    let alice = row(&list, "alice");
    assert_eq!(alice["active"], true);
    assert_eq!(alice["votes"], "0");
    assert_eq!(alice["elected"], false, "one candidate is not a term");

    let err = refused(&d, &["election", "announce", "--from", "dev:alice"]);
    assert!(err.contains("failed"), "{err}");

    let r = d.cli_json(&[
        "election",
        "vote",
        "--from",
        "dev:bob",
        "--candidate",
        "dev:alice",
        "--amount",
        "100",
        "--lock",
        "60s",
    ]);
    assert_eq!(r["receipt"]["status"], "success", "{r}");
    let voted = &r["receipt"]["events"][0];
    assert_eq!(voted["kind"], "voted", "{r}");
    let vote_id = voted["vote"].as_u64().unwrap().to_string();
    assert_eq!(row(&candidates(&d), "alice")["votes"], "100000000000");
    // Locked for a minute: withdrawing now fails and changes nothing.
    refused(
        &d,
        &[
            "election", "withdraw", "--from", "dev:bob", "--vote", &vote_id,
        ],
    );
    assert_eq!(row(&candidates(&d), "alice")["votes"], "100000000000");
    let err = refused(
        &d,
        &[
            "election",
            "vote",
            "--from",
            "dev:bob",
            "--candidate",
            "not-a-key",
            "--amount",
            "1",
        ],
    );
    assert!(err.contains("public key"), "{err}");

    // Enough candidates with votes: the top `miners` are elected.
    let names = ["carol", "dave", "eve", "frank", "grace"];
    for n in names.iter().take(miners) {
        let who = format!("dev:{n}");
        let r = d.cli_json(&["election", "announce", "--from", &who]);
        assert_eq!(r["receipt"]["status"], "success", "{r}");
        let r = d.cli_json(&[
            "election",
            "vote",
            "--from",
            "dev:judy",
            "--candidate",
            &who,
            "--amount",
            "1000",
        ]);
        assert_eq!(r["receipt"]["status"], "success", "{r}");
    }
    let list = candidates(&d);
    let elected: Vec<&str> = list["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["elected"] == true)
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(elected.len(), miners, "{list}");
    assert_eq!(
        row(&list, "alice")["elected"],
        false,
        "fewest votes: {list}"
    );

    // Quitting returns the deposit.
    let before = balance(&d, "dev:carol");
    let r = d.cli_json(&["election", "quit", "--from", "dev:carol"]);
    assert_eq!(r["receipt"]["status"], "success", "{r}");
    assert_eq!(balance(&d, "dev:carol"), before + deposit - fee(&r));
    let list = candidates(&d);
    assert_eq!(row(&list, "carol")["active"], false);
    assert_eq!(
        row(&list, "alice")["elected"],
        true,
        "alice moves up: {list}"
    );
    let text = d.cli(&["election", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("elected") && text.contains("quit"), "{text}");
}
