//! Storage calls through the real executors, on in-memory state.

use super::*;
use crate::boxes::tests::{START, Sim, asm};
use crate::executor::SequentialExecutor;
use crate::fees::{required_fee, reward_pool, storage_pool};
use crate::{ParallelExecutor, TxInvalid};
use proptest::prelude::*;
use umbra_crypto::{Keypair, dev_keypair};
use umbra_storage::MemState;
use umbra_types::{Event, GateKind, MessageBody, TxStatus};

const HOUR: u64 = HOUR_MS;

fn code(status: &TxStatus) -> Option<u16> {
    match status {
        TxStatus::Failed { code, .. } => Some(*code),
        TxStatus::Success => None,
    }
}

fn id(n: u8) -> Hash {
    Hash([n; 32])
}

fn alloc_call(content: Hash, size: u64, period_ms: u64, public: bool) -> Payload {
    Payload::StorageAlloc {
        content_id: content,
        size,
        blocks: content_blocks(size),
        replicas: 3,
        priority: 1,
        mode: StorageMode::ReadOnly,
        period_ms,
        public,
    }
}

fn grant_call(content: Hash, reader: &Keypair, key: u8) -> Payload {
    Payload::StorageGrant {
        content_id: content,
        reader: reader.address(),
        wrapped_key: vec![key; 80],
    }
}

fn register_call(peer: u8, addr: &str) -> Payload {
    Payload::StorageRegister {
        peer_id: vec![peer; 38],
        addrs: vec![addr.to_string()],
    }
}

/// The fee `p` will be charged when `k` sends it next.
fn fee_of(s: &mut Sim, k: &Keypair, p: Payload) -> Amount {
    let t = s.tx(k, p);
    if let Some(n) = s.nonces.get_mut(&k.address()) {
        *n -= 1;
    }
    required_fee(&s.params, &t)
}

/// Sends `p` and expects it refused before inclusion.
fn rejected(s: &mut Sim, k: &Keypair, p: Payload) -> TxInvalid {
    let t = s.tx(k, p);
    let out = s.run(&[t]);
    *s.nonces.get_mut(&k.address()).unwrap() -= 1;
    assert!(out.included.is_empty(), "included: {:?}", out.receipts);
    out.rejected[0].1.clone()
}

#[test]
fn alloc_pays_exactly_the_price_to_the_storage_pool_and_the_fee() {
    let alice = dev_keypair("alice");
    let mut s = Sim::new(&[&alice]);
    let size = 5 * 262_144 + 1;
    let p = alloc_call(id(1), size, 2 * HOUR + 1, false);
    let fee = fee_of(&mut s, &alice, p.clone());
    assert!(fee >= s.params.fee_storage_op);
    // 6 blocks × 3 replicas × 3 hours (rounded up) × 1,000.
    let price = storage_price(&s.params, 6, 3, 1, StorageMode::ReadOnly, 2 * HOUR + 1).unwrap();
    assert_eq!(price, 6 * 3 * 3 * 1_000);
    let now = s.time_ms;
    let (st, ev) = s.one(&alice, p);
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        ev,
        vec![Event::StorageAllocated {
            content_id: id(1),
            owner: alice.address(),
            expires_ms: now + 2 * HOUR + 1,
            paid: price,
        }]
    );
    assert_eq!(s.balance(&alice.address()), START - fee - price);
    assert_eq!(s.balance(&storage_pool()), price);
    assert_eq!(s.balance(&reward_pool()), fee);
    let a = allocation(&s.state, &id(1)).unwrap().unwrap();
    assert_eq!(
        (a.owner, a.size, a.blocks, a.replicas, a.created_ms, a.paid),
        (alice.address(), size, 6, 3, now, price)
    );
    assert!(!a.public);
    assert_eq!(
        contents_of(&s.state, &alice.address()).unwrap(),
        vec![id(1)]
    );

    // A failed allocation charges only the fee.
    let (st, _) = s.one(&alice, alloc_call(id(1), size, HOUR, false));
    assert_eq!(code(&st), Some(fail_codes::ALREADY_ALLOCATED));
    assert_eq!(s.balance(&storage_pool()), price);
}

#[test]
fn the_default_price_makes_a_month_of_a_replicated_gibibyte_cheap() {
    let params = ChainParams::default();
    let blocks = content_blocks(1 << 30);
    assert_eq!(blocks, 4096);
    let month =
        storage_price(&params, blocks, 3, 1, StorageMode::ReadOnly, 30 * 24 * HOUR).unwrap();
    // 8.84736 UMB, against a dev account's 1,000,000.
    assert_eq!(month, 8_847_360_000);
    let most = storage_price(
        &params,
        umbra_types::MAX_CONTENT_BLOCKS,
        params.max_replicas,
        3,
        StorageMode::Writable,
        params.max_storage_period_ms,
    );
    assert!(most.is_some(), "the dearest allocation has a price");
}

#[test]
fn malformed_allocations_never_reach_a_block() {
    let alice = dev_keypair("alice");
    let mut s = Sim::new(&[&alice]);
    let good = alloc_call(id(1), 1 << 20, HOUR, false);
    let mut bad = Vec::new();
    let mut with = |f: &dyn Fn(&mut Payload)| {
        let mut p = good.clone();
        f(&mut p);
        bad.push(p);
    };
    with(&|p| {
        if let Payload::StorageAlloc { blocks, .. } = p {
            *blocks = 5;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { size, .. } = p {
            *size = 0; // one block, not four
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { content_id, .. } = p {
            *content_id = Hash::ZERO;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { replicas, .. } = p {
            *replicas = 0;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { replicas, .. } = p {
            *replicas = 9;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { priority, .. } = p {
            *priority = 4;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { period_ms, .. } = p {
            *period_ms = HOUR - 1;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { period_ms, .. } = p {
            *period_ms = 10 * 365 * 24 * HOUR + 1;
        }
    });
    with(&|p| {
        if let Payload::StorageAlloc { size, blocks, .. } = p {
            *size = (umbra_types::MAX_CONTENT_BLOCKS + 1) * umbra_types::STORAGE_BLOCK_SIZE;
            *blocks = umbra_types::MAX_CONTENT_BLOCKS + 1;
        }
    });
    for p in bad {
        let e = rejected(&mut s, &alice, p.clone());
        assert!(matches!(e, TxInvalid::InvalidCall(_)), "{p:?}: {e:?}");
        // Run directly, the module refuses it too.
        let mut o = Overlay::new(&s.state);
        let env = StorageEnv {
            timestamp_ms: s.time_ms,
            params: &s.params,
        };
        let r = dispatch(&mut o, &env, &alice.address(), &p).unwrap();
        assert_eq!(r.err().map(|f| f.code), Some(fail_codes::BAD_STORAGE_CALL));
    }
    assert_eq!(allocation(&s.state, &id(1)).unwrap(), None);
    let (st, _) = s.one(&alice, good);
    assert_eq!(st, TxStatus::Success);
}

#[test]
fn a_live_allocation_is_refused_and_an_expired_one_is_taken_over() {
    let (alice, bob, carol) = (
        dev_keypair("alice"),
        dev_keypair("bob"),
        dev_keypair("carol"),
    );
    let mut s = Sim::new(&[&alice, &bob, &carol]);
    s.one(&alice, alloc_call(id(1), 10, HOUR, false));
    s.one(&alice, grant_call(id(1), &carol, 1));
    let expires = allocation(&s.state, &id(1)).unwrap().unwrap().expires_ms;
    for k in [&alice, &bob] {
        let (st, _) = s.one(k, alloc_call(id(1), 10, HOUR, false));
        assert_eq!(code(&st), Some(fail_codes::ALREADY_ALLOCATED));
    }
    s.time_ms = expires;
    let (st, ev) = s.one(&bob, alloc_call(id(1), 20, HOUR, true));
    assert_eq!(st, TxStatus::Success);
    assert!(matches!(
        ev[0],
        Event::StorageCollected { owner, collector, .. }
            if owner == alice.address() && collector == bob.address()
    ));
    let a = allocation(&s.state, &id(1)).unwrap().unwrap();
    assert_eq!((a.owner, a.size, a.public), (bob.address(), 20, true));
    assert_eq!(contents_of(&s.state, &alice.address()).unwrap(), vec![]);
    assert_eq!(contents_of(&s.state, &bob.address()).unwrap(), vec![id(1)]);
    assert_eq!(grant(&s.state, &id(1), &carol.address()).unwrap(), None);
    assert_eq!(grants_to(&s.state, &carol.address()).unwrap(), vec![]);
    assert_eq!(readers_of(&s.state, &id(1)).unwrap(), vec![]);
}

#[test]
fn renewals_extend_from_the_later_of_now_and_expiry_and_anyone_may_pay() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut s = Sim::new(&[&alice, &bob]);
    let (st, _) = s.one(
        &bob,
        Payload::StorageRenew {
            content_id: id(1),
            period_ms: HOUR,
        },
    );
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));
    s.one(&alice, alloc_call(id(1), 1 << 20, HOUR, false));
    let a = allocation(&s.state, &id(1)).unwrap().unwrap();
    let pool = s.balance(&storage_pool());
    let renew = Payload::StorageRenew {
        content_id: id(1),
        period_ms: 3 * HOUR,
    };
    let before = s.balance(&bob.address());
    let fee = fee_of(&mut s, &bob, renew.clone());
    let (st, ev) = s.one(&bob, renew.clone());
    assert_eq!(st, TxStatus::Success);
    let price = storage_price(&s.params, 4, 3, 1, StorageMode::ReadOnly, 3 * HOUR).unwrap();
    assert_eq!(
        ev,
        vec![Event::StorageRenewed {
            content_id: id(1),
            payer: bob.address(),
            expires_ms: a.expires_ms + 3 * HOUR,
            paid: price,
        }]
    );
    assert_eq!(s.balance(&bob.address()), before - fee - price);
    assert_eq!(s.balance(&storage_pool()), pool + price);
    let b = allocation(&s.state, &id(1)).unwrap().unwrap();
    assert_eq!(b.expires_ms, a.expires_ms + 3 * HOUR);
    assert_eq!(b.paid, a.paid + price);
    assert_eq!(b.owner, alice.address(), "renewing does not change owners");

    // Expired but not collected: the extension runs from now.
    s.time_ms = b.expires_ms + 5 * HOUR;
    let now = s.time_ms;
    let (st, _) = s.one(&alice, renew);
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        allocation(&s.state, &id(1)).unwrap().unwrap().expires_ms,
        now + 3 * HOUR
    );

    // Never more than the longest period ahead.
    let max = s.params.max_storage_period_ms;
    let (st, _) = s.one(
        &alice,
        Payload::StorageRenew {
            content_id: id(1),
            period_ms: max,
        },
    );
    assert_eq!(code(&st), Some(fail_codes::BAD_STORAGE_CALL));
}

#[test]
fn collection_waits_for_expiry_then_removes_everything() {
    let (alice, bob, carol, dave) = (
        dev_keypair("alice"),
        dev_keypair("bob"),
        dev_keypair("carol"),
        dev_keypair("dave"),
    );
    let mut s = Sim::new(&[&alice, &bob, &carol, &dave]);
    s.one(&alice, alloc_call(id(1), 10, HOUR, false));
    s.one(&alice, alloc_call(id(2), 10, 2 * HOUR, false));
    for r in [&carol, &dave] {
        s.one(&alice, grant_call(id(1), r, 1));
        s.one(&alice, grant_call(id(2), r, 2));
    }
    let collect = |n| Payload::StorageCollect { content_id: id(n) };
    let (st, _) = s.one(&bob, collect(1));
    assert_eq!(code(&st), Some(fail_codes::NOT_EXPIRED));
    let (st, _) = s.one(&bob, collect(9));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));

    s.time_ms = allocation(&s.state, &id(1)).unwrap().unwrap().expires_ms;
    let (st, ev) = s.one(&bob, collect(1));
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        ev,
        vec![Event::StorageCollected {
            content_id: id(1),
            owner: alice.address(),
            collector: bob.address(),
        }]
    );
    assert_eq!(allocation(&s.state, &id(1)).unwrap(), None);
    assert_eq!(
        contents_of(&s.state, &alice.address()).unwrap(),
        vec![id(2)]
    );
    assert_eq!(readers_of(&s.state, &id(1)).unwrap(), vec![]);
    for r in [&carol, &dave] {
        assert_eq!(grant(&s.state, &id(1), &r.address()).unwrap(), None);
        assert!(grant(&s.state, &id(2), &r.address()).unwrap().is_some());
        assert_eq!(grants_to(&s.state, &r.address()).unwrap(), vec![id(2)]);
    }
    let (st, _) = s.one(&bob, collect(1));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));

    // The last content gone, no storage key is left behind.
    s.time_ms += 2 * HOUR;
    assert_eq!(s.one(&bob, collect(2)).0, TxStatus::Success);
    assert!(
        !s.state.0.keys().any(|k| k[0] == keys::PREFIX),
        "storage keys left: {:?}",
        s.state.0.keys().filter(|k| k[0] == keys::PREFIX).count()
    );
}

#[test]
fn grants_are_the_owners_to_give_for_private_content_and_replace_each_other() {
    let (alice, bob, carol) = (
        dev_keypair("alice"),
        dev_keypair("bob"),
        dev_keypair("carol"),
    );
    let mut s = Sim::new(&[&alice, &bob, &carol]);
    let (st, _) = s.one(&alice, grant_call(id(1), &carol, 1));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));
    s.one(&alice, alloc_call(id(1), 10, HOUR, false));
    s.one(&alice, alloc_call(id(2), 10, HOUR, true));
    let (st, _) = s.one(&bob, grant_call(id(1), &carol, 1));
    assert_eq!(code(&st), Some(fail_codes::NOT_OWNER));
    let (st, _) = s.one(&alice, grant_call(id(2), &carol, 1));
    assert_eq!(code(&st), Some(fail_codes::PUBLIC_CONTENT));
    for (bytes, ok) in [(0usize, false), (129, false), (128, true)] {
        let p = Payload::StorageGrant {
            content_id: id(1),
            reader: bob.address(),
            wrapped_key: vec![7; bytes],
        };
        if ok {
            assert_eq!(s.one(&alice, p).0, TxStatus::Success);
        } else {
            assert!(matches!(
                rejected(&mut s, &alice, p),
                TxInvalid::InvalidCall(_)
            ));
        }
    }

    let now = s.time_ms;
    let (st, ev) = s.one(&alice, grant_call(id(1), &carol, 1));
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        ev,
        vec![Event::StorageGranted {
            content_id: id(1),
            reader: carol.address()
        }]
    );
    let g = grant(&s.state, &id(1), &carol.address()).unwrap().unwrap();
    assert_eq!(
        g,
        Grant {
            content_id: id(1),
            owner: alice.address(),
            reader: carol.address(),
            wrapped_key: vec![1; 80],
            granted_ms: now,
        }
    );
    // A second grant to the same reader replaces the first.
    s.one(&alice, grant_call(id(1), &carol, 2));
    let g = grant(&s.state, &id(1), &carol.address()).unwrap().unwrap();
    assert_eq!(g.wrapped_key, vec![2; 80]);
    assert_eq!(
        readers_of(&s.state, &id(1)).unwrap(),
        vec![bob.address(), carol.address()]
    );
    assert_eq!(grants_to(&s.state, &carol.address()).unwrap(), vec![id(1)]);

    // Expired content takes no grants.
    s.time_ms = allocation(&s.state, &id(1)).unwrap().unwrap().expires_ms;
    let (st, _) = s.one(&alice, grant_call(id(1), &carol, 3));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));
}

#[test]
fn grant_and_content_lists_are_bounded() {
    let ks: Vec<Keypair> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|n| dev_keypair(n))
        .collect();
    let refs: Vec<&Keypair> = ks.iter().collect();
    let mut s = Sim::new(&refs);
    s.params.max_grants_per_content = 2;
    s.params.max_contents_per_account = 2;
    let alice = &ks[0];
    s.one(alice, alloc_call(id(1), 10, HOUR, false));
    s.one(alice, alloc_call(id(2), 10, HOUR, false));
    let (st, _) = s.one(alice, alloc_call(id(3), 10, HOUR, false));
    assert_eq!(code(&st), Some(fail_codes::TOO_MANY_CONTENTS));
    assert_eq!(
        s.one(alice, grant_call(id(1), &ks[1], 1)).0,
        TxStatus::Success
    );
    assert_eq!(
        s.one(alice, grant_call(id(1), &ks[2], 1)).0,
        TxStatus::Success
    );
    let (st, _) = s.one(alice, grant_call(id(1), &ks[3], 1));
    assert_eq!(code(&st), Some(fail_codes::TOO_MANY_GRANTS));
    // Replacing an existing grant needs no new room.
    assert_eq!(
        s.one(alice, grant_call(id(1), &ks[2], 9)).0,
        TxStatus::Success
    );
    // Bob's list of granted contents: two fit, a third does not.
    assert_eq!(
        s.one(alice, grant_call(id(2), &ks[1], 1)).0,
        TxStatus::Success
    );
    s.one(&ks[3], alloc_call(id(4), 10, HOUR, false));
    let (st, _) = s.one(&ks[3], grant_call(id(4), &ks[1], 1));
    assert_eq!(code(&st), Some(fail_codes::TOO_MANY_CONTENTS));
}

#[test]
fn storage_node_deposit_round_trip_and_table_rules() {
    let (alice, bob, carol) = (
        dev_keypair("alice"),
        dev_keypair("bob"),
        dev_keypair("carol"),
    );
    let mut s = Sim::new(&[&alice, &bob, &carol]);
    s.params.storage_node_deposit = 5_000_000;
    s.params.max_storage_nodes = 2;
    let deposit = s.params.storage_node_deposit;
    let (st, _) = s.one(&alice, Payload::StorageUnregister);
    assert_eq!(code(&st), Some(fail_codes::NOT_STORAGE_NODE));

    let before = s.balance(&alice.address());
    let p = register_call(1, "/ip4/10.0.0.1/tcp/4001");
    let fee = fee_of(&mut s, &alice, p.clone());
    let now = s.time_ms;
    let (st, ev) = s.one(&alice, p);
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        ev,
        vec![Event::StorageNodeRegistered {
            operator: alice.address(),
            peer_id: vec![1; 38],
            deposit,
        }]
    );
    assert_eq!(s.balance(&alice.address()), before - fee - deposit);

    // Registering again updates the addresses and locks nothing more.
    let p = register_call(1, "/ip4/10.0.0.2/tcp/4001");
    let fee2 = fee_of(&mut s, &alice, p.clone());
    let (st, ev) = s.one(&alice, p);
    assert_eq!(st, TxStatus::Success);
    assert!(matches!(
        ev[0],
        Event::StorageNodeRegistered { deposit: 0, .. }
    ));
    assert_eq!(s.balance(&alice.address()), before - fee - fee2 - deposit);
    assert_eq!(
        storage_nodes(&s.state).unwrap(),
        vec![StorageNode {
            operator: alice.address(),
            peer_id: vec![1; 38],
            addrs: vec!["/ip4/10.0.0.2/tcp/4001".into()],
            deposit,
            registered_ms: now,
        }]
    );

    // Another operator cannot take the peer id; the table is bounded.
    let (st, _) = s.one(&bob, register_call(1, "/ip4/10.0.0.3/tcp/1"));
    assert_eq!(code(&st), Some(fail_codes::PEER_ID_TAKEN));
    assert_eq!(
        s.one(&bob, register_call(2, "/ip4/10.0.0.3/tcp/1")).0,
        TxStatus::Success
    );
    let (st, _) = s.one(&carol, register_call(3, "/ip4/10.0.0.4/tcp/1"));
    assert_eq!(code(&st), Some(fail_codes::TOO_MANY_STORAGE_NODES));
    assert_eq!(storage_nodes(&s.state).unwrap().len(), 2);

    // Malformed registrations never reach a block.
    for p in [
        Payload::StorageRegister {
            peer_id: vec![],
            addrs: vec![],
        },
        Payload::StorageRegister {
            peer_id: vec![1; 65],
            addrs: vec![],
        },
        Payload::StorageRegister {
            peer_id: vec![4; 38],
            addrs: vec!["a".into(); 5],
        },
        Payload::StorageRegister {
            peer_id: vec![4; 38],
            addrs: vec!["a".repeat(129)],
        },
    ] {
        assert!(matches!(
            rejected(&mut s, &carol, p),
            TxInvalid::InvalidCall(_)
        ));
    }

    // Unregistering returns the deposit and frees the peer id and a row.
    let before = s.balance(&alice.address());
    let fee = fee_of(&mut s, &alice, Payload::StorageUnregister);
    let (st, ev) = s.one(&alice, Payload::StorageUnregister);
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        ev,
        vec![Event::StorageNodeUnregistered {
            operator: alice.address(),
            refund: deposit,
        }]
    );
    assert_eq!(s.balance(&alice.address()), before - fee + deposit);
    assert_eq!(
        s.one(&carol, register_call(1, "/ip4/10.0.0.4/tcp/1")).0,
        TxStatus::Success
    );
    let (st, _) = s.one(&alice, Payload::StorageUnregister);
    assert_eq!(code(&st), Some(fail_codes::NOT_STORAGE_NODE));
}

fn link_gate(content: Hash) -> Vec<u8> {
    asm(&format!("LINK 0x{}\nDROP\nOK\n", content.to_hex()))
}

fn text(t: &str) -> MessageBody {
    MessageBody::Data(t.as_bytes().to_vec())
}

#[test]
fn link_in_a_gate_accepts_only_live_content() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut s = Sim::new(&[&alice, &bob]);
    s.one(&alice, alloc_call(id(1), 10, HOUR, false));
    s.one(
        &alice,
        Payload::BoxCreate {
            name: "linked".into(),
        },
    );
    s.one(
        &alice,
        Payload::BoxCreate {
            name: "unlinked".into(),
        },
    );
    for (name, content) in [("linked", id(1)), ("unlinked", id(2))] {
        s.one(
            &alice,
            Payload::BoxSetGate {
                name: name.into(),
                kind: GateKind::Write,
                code: link_gate(content),
            },
        );
    }
    let push = |name: &str| Payload::BoxPush {
        name: name.into(),
        body: text("hi"),
    };
    assert_eq!(s.one(&bob, push("linked")).0, TxStatus::Success);
    let t = s.tx(&bob, push("unlinked"));
    let out = s.run(&[t]);
    match &out.receipts[0].status {
        TxStatus::Failed { code, reason } => {
            assert_eq!(*code, fail_codes::GATE_ERROR);
            assert!(reason.contains("is not allocated"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Once the content expires, LINK refuses it too.
    s.time_ms = allocation(&s.state, &id(1)).unwrap().unwrap().expires_ms;
    let (st, _) = s.one(&bob, push("linked"));
    assert_eq!(code(&st), Some(fail_codes::GATE_ERROR));
}

#[test]
fn link_messages_need_live_content_of_the_linked_size() {
    let alice = dev_keypair("alice");
    let mut s = Sim::new(&[&alice]);
    s.one(
        &alice,
        Payload::BoxCreate {
            name: "files".into(),
        },
    );
    let link = |n: u8, size: u64| MessageBody::Link {
        content_id: id(n),
        size,
    };
    let push = |body| Payload::BoxPush {
        name: "files".into(),
        body,
    };
    let (st, _) = s.one(&alice, push(link(1, 1000)));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));
    s.one(&alice, alloc_call(id(1), 1000, HOUR, false));
    let (st, _) = s.one(&alice, push(link(1, 999)));
    assert_eq!(code(&st), Some(fail_codes::LINK_SIZE_MISMATCH));
    assert_eq!(s.one(&alice, push(link(1, 1000))).0, TxStatus::Success);
    assert_eq!(s.one(&alice, push(text("plain"))).0, TxStatus::Success);
    let replace = |body| Payload::BoxReplace {
        name: "files".into(),
        index: 1,
        body,
    };
    let (st, _) = s.one(&alice, replace(link(2, 5)));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));
    let (st, _) = s.one(&alice, replace(link(1, 5)));
    assert_eq!(code(&st), Some(fail_codes::LINK_SIZE_MISMATCH));
    assert_eq!(s.one(&alice, replace(link(1, 1000))).0, TxStatus::Success);
    s.time_ms = allocation(&s.state, &id(1)).unwrap().unwrap().expires_ms;
    let (st, _) = s.one(&alice, push(link(1, 1000)));
    assert_eq!(code(&st), Some(fail_codes::NOT_ALLOCATED));
}

#[test]
fn parallel_executor_agrees_on_a_block_of_storage_calls() {
    // Eight accounts, each working on its own content, plus shared
    // content, links, grants, renewals, a registration barrier and
    // transfers into the storage pool itself.
    let names = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let ks: Vec<Keypair> = names.iter().map(|n| dev_keypair(n)).collect();
    let refs: Vec<&Keypair> = ks.iter().collect();
    let mut seq = Sim::new(&refs);
    for (i, k) in ks.iter().enumerate() {
        seq.one(
            k,
            Payload::BoxCreate {
                name: format!("box_{i}"),
            },
        );
    }
    seq.params.storage_node_deposit = 1_000;
    // Content 100 expires right away: allocating it again collects it.
    seq.one(&ks[0], alloc_call(id(100), 10, HOUR, false));
    seq.one(&ks[0], grant_call(id(100), &ks[1], 1));
    seq.time_ms += HOUR;
    let mut par = Sim {
        state: MemState(seq.state.0.clone()),
        nonces: seq.nonces.clone(),
        height: seq.height,
        time_ms: seq.time_ms,
        params: seq.params.clone(),
    };
    let mut txs = Vec::new();
    for round in 0..30u8 {
        for (i, k) in ks.iter().enumerate() {
            let own = id(10 * (i as u8 + 1) + round % 3);
            let p = match (round as usize + i) % 7 {
                0 => alloc_call(own, 300 + u64::from(round), HOUR, false),
                1 => grant_call(id(10 * (i as u8 + 1)), &ks[(i + 1) % 8], round),
                2 => Payload::StorageRenew {
                    content_id: id(10 * (i as u8 + 1)),
                    period_ms: HOUR,
                },
                3 => Payload::BoxPush {
                    name: format!("box_{i}"),
                    body: MessageBody::Link {
                        content_id: id(10 * (i as u8 + 1)),
                        size: 300,
                    },
                },
                4 if round == 12 && i == 6 => register_call(i as u8, "/dns4/n/tcp/1"),
                4 if round == 18 => alloc_call(id(100), 10, HOUR, true),
                4 if i == 0 => Payload::Transfer {
                    to: storage_pool(),
                    amount: 3,
                },
                4 => Payload::Transfer {
                    to: Address([i as u8; 32]),
                    amount: 3,
                },
                5 if round == 25 => Payload::StorageCollect {
                    content_id: id(100),
                },
                _ => Payload::BoxPush {
                    name: format!("box_{i}"),
                    body: text("x"),
                },
            };
            txs.push(seq.tx(k, p));
        }
    }
    let pool_before = seq.balance(&storage_pool());
    let a = seq.run_with(&SequentialExecutor, &txs);
    let exec = ParallelExecutor::new(2).unwrap();
    let p = par.run_with(&exec, &txs);
    assert_eq!(a.included, p.included);
    assert_eq!(a.receipts, p.receipts);
    assert_eq!(a.changes, p.changes);
    assert_eq!(a.included.len(), txs.len());
    let ok = a
        .receipts
        .iter()
        .filter(|r| r.status == TxStatus::Success)
        .count();
    assert!(ok > txs.len() / 2, "only {ok} of {} succeeded", txs.len());
    let stats = exec.stats();
    assert!(stats.parallel_phases >= 1, "{stats:?}");
    assert!(
        stats.strayed_units >= 1,
        "taking over content strays: {stats:?}"
    );
    // Both charged storage into the pool, and the pool's balance is the
    // sum of what was paid and transferred.
    let paid: Amount = a
        .receipts
        .iter()
        .flat_map(|r| &r.events)
        .map(|e| match e {
            Event::StorageAllocated { paid, .. } | Event::StorageRenewed { paid, .. } => *paid,
            Event::Transfer { to, amount, .. } if *to == storage_pool() => *amount,
            _ => 0,
        })
        .sum();
    assert!(paid > 0);
    assert_eq!(seq.balance(&storage_pool()), pool_before + paid);
    assert_eq!(par.balance(&storage_pool()), pool_before + paid);
}

#[test]
fn link_checks_are_declared_reads() {
    // A push of a link reads only what it declares: the allocation.
    let alice = dev_keypair("alice");
    let mut s = Sim::new(&[&alice]);
    let t = s.tx(
        &alice,
        Payload::BoxPush {
            name: "files".into(),
            body: MessageBody::Link {
                content_id: id(1),
                size: 1,
            },
        },
    );
    let rs = crate::resources_of(&t);
    assert!(rs.declares(&keys::allocation(&id(1))));
    let g = s.tx(&alice, grant_call(id(1), &alice, 1));
    let rs = crate::resources_of(&g);
    for k in [
        keys::allocation(&id(1)),
        keys::grant(&id(1), &alice.address()),
        keys::readers(&id(1)),
        keys::granted(&alice.address()),
    ] {
        assert!(rs.declares(&k));
    }
}

fn mode_of(b: bool) -> StorageMode {
    if b {
        StorageMode::Writable
    } else {
        StorageMode::ReadOnly
    }
}

proptest! {
    // More of anything never costs less.
    #[test]
    fn price_is_monotonic_in_every_argument(
        per in 0u128..1_000_000,
        blocks in 0u64..100_000,
        replicas in 0u8..=255,
        priority in 0u8..=3,
        writable in any::<bool>(),
        period in 0u64..(20 * 365 * 24 * HOUR),
        step in 1u64..10_000_000,
    ) {
        let mut params = ChainParams { storage_price_per_block_hour: per, ..ChainParams::default() };
        let mode = mode_of(writable);
        let base = storage_price(&params, blocks, replicas, priority, mode, period).unwrap();
        let more = [
            storage_price(&params, blocks + 1, replicas, priority, mode, period),
            storage_price(&params, blocks, replicas.saturating_add(1), priority, mode, period),
            storage_price(&params, blocks, replicas, (priority + 1).min(3), mode, period),
            storage_price(&params, blocks, replicas, priority, StorageMode::Writable, period),
            storage_price(&params, blocks, replicas, priority, mode, period + step),
        ];
        for m in more {
            prop_assert!(m.unwrap() >= base);
        }
        params.storage_price_per_block_hour = per + 1;
        prop_assert!(storage_price(&params, blocks, replicas, priority, mode, period).unwrap() >= base);
    }

    // Whatever the arguments, the price is a number or None, never a panic;
    // and it is zero only if some factor is.
    #[test]
    fn price_never_panics(
        per in any::<u128>(),
        blocks in any::<u64>(),
        replicas in any::<u8>(),
        priority in any::<u8>(),
        writable in any::<bool>(),
        period in any::<u64>(),
    ) {
        let params = ChainParams { storage_price_per_block_hour: per, ..ChainParams::default() };
        let p = storage_price(&params, blocks, replicas, priority, mode_of(writable), period);
        if priority > 3 {
            prop_assert_eq!(p, None);
        }
        if let Some(p) = p {
            prop_assert_eq!(p == 0, per == 0 || blocks == 0 || replicas == 0 || period == 0);
        }
    }
}

#[test]
fn price_overflow_is_none() {
    let params = ChainParams {
        storage_price_per_block_hour: u128::MAX / 2,
        ..ChainParams::default()
    };
    assert_eq!(
        storage_price(&params, 2, 1, 0, StorageMode::ReadOnly, HOUR),
        Some(u128::MAX / 2)
    );
    assert_eq!(
        storage_price(&params, 3, 1, 0, StorageMode::ReadOnly, HOUR),
        None
    );
    // An allocation whose price overflows is refused before inclusion.
    let alice = dev_keypair("alice");
    let mut s = Sim::new(&[&alice]);
    s.params = params;
    assert!(matches!(
        rejected(&mut s, &alice, alloc_call(id(1), 1 << 30, HOUR, false)),
        TxInvalid::InvalidCall(m) if m.contains("overflows")
    ));
}

#[test]
fn sequential_and_parallel_agree_on_fees_for_failed_storage_calls() {
    // A block of refusals only: every call pays its fee to the reward pool
    // and nothing to the storage pool.
    let ks: Vec<Keypair> = (0..80u32)
        .map(|i| {
            let mut seed = [5u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            Keypair::from_seed(seed)
        })
        .collect();
    let refs: Vec<&Keypair> = ks.iter().collect();
    let mut seq = Sim::new(&refs);
    let mut par = Sim::new(&refs);
    let txs: Vec<_> = ks
        .iter()
        .enumerate()
        .map(|(i, k)| {
            seq.tx(
                k,
                Payload::StorageRenew {
                    content_id: id(i as u8),
                    period_ms: HOUR,
                },
            )
        })
        .collect();
    let a = seq.run_with(&SequentialExecutor, &txs);
    let exec = ParallelExecutor::new(2).unwrap();
    let b = par.run_with(&exec, &txs);
    assert_eq!(a.receipts, b.receipts);
    assert_eq!(a.changes, b.changes);
    assert_eq!(seq.balance(&storage_pool()), 0);
    assert_eq!(exec.stats().parallel_phases, 1);
}
