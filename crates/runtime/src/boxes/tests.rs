//! Box calls through the real executors, on in-memory state.

use crate::account::Account;
use crate::boxes::keys;
use crate::context::{BlockContext, RefBlocks};
use crate::error::fail_codes;
use crate::executor::{BlockOutput, ExecMode, Executor, SequentialExecutor};
use crate::fees::{required_fee, reward_pool};
use crate::params::ChainParams;
use crate::{Changes, ParallelExecutor, TxInvalid};
use umbra_crypto::{Keypair, dev_keypair};
use umbra_storage::MemState;
use umbra_types::{
    Address, Amount, Event, GateKind, MessageBody, Payload, RefBlock, Transaction, TxStatus,
    UnsignedTransaction, decode_bounded, encode,
};

pub(crate) struct Refs;
impl RefBlocks for Refs {
    fn hash_prefix(&self, height: u64) -> Option<[u8; 4]> {
        Some((height as u32).to_le_bytes())
    }
}

pub(crate) const START: Amount = 1_000_000_000_000;

/// A chain in memory: state, nonces, and blocks applied one by one.
pub(crate) struct Sim {
    pub state: MemState,
    pub nonces: std::collections::BTreeMap<Address, u64>,
    pub height: u64,
    pub time_ms: u64,
    pub params: ChainParams,
}

impl Sim {
    pub fn new(accounts: &[&Keypair]) -> Sim {
        let mut state = MemState::default();
        for k in accounts {
            state.0.insert(
                crate::keys::account(&k.address()),
                encode(&Account {
                    balance: START,
                    nonce: 0,
                }),
            );
        }
        Sim {
            state,
            nonces: Default::default(),
            height: 70,
            time_ms: 1_000_000,
            params: ChainParams::default(),
        }
    }

    pub fn tx(&mut self, k: &Keypair, payload: Payload) -> Transaction {
        let n = self.nonces.entry(k.address()).or_default();
        let t = k.sign_transaction(UnsignedTransaction {
            chain_id: 7,
            sender: k.public(),
            nonce: *n,
            ref_block: RefBlock {
                height: 60,
                hash_prefix: 60u32.to_le_bytes(),
            },
            max_fee: 100_000_000,
            payload,
        });
        *n += 1;
        t
    }

    pub fn run_with(&mut self, exec: &dyn Executor, txs: &[Transaction]) -> BlockOutput {
        let ctx = BlockContext {
            chain_id: 7,
            height: self.height,
            timestamp_ms: self.time_ms,
            proposer: Default::default(),
            randomness: [9; 32],
            params: &self.params,
            ref_blocks: &Refs,
        };
        let out = exec
            .execute_block(&self.state, &ctx, txs, ExecMode::Produce)
            .expect("block executes");
        apply(&mut self.state, &out.changes);
        self.height += 1;
        self.time_ms += 1_000;
        out
    }

    pub fn run(&mut self, txs: &[Transaction]) -> BlockOutput {
        self.run_with(&SequentialExecutor, txs)
    }

    /// Runs one transaction in its own block and returns its receipt status.
    pub fn one(&mut self, k: &Keypair, payload: Payload) -> (TxStatus, Vec<Event>) {
        let t = self.tx(k, payload);
        let out = self.run(&[t]);
        assert_eq!(out.rejected, vec![], "transaction rejected");
        let r = &out.receipts[0];
        (r.status.clone(), r.events.clone())
    }

    pub fn balance(&self, a: &Address) -> Amount {
        self.state
            .0
            .get(&crate::keys::account(a))
            .map(|b| decode_bounded::<Account>(b, 1024).unwrap().balance)
            .unwrap_or(0)
    }
}

fn apply(state: &mut MemState, changes: &Changes) {
    for (k, v) in changes {
        match v {
            Some(v) => state.0.insert(k.clone(), v.clone()),
            None => state.0.remove(k),
        };
    }
}

pub(crate) fn asm(src: &str) -> Vec<u8> {
    umbra_vm::assemble(src).expect("test gate assembles")
}

pub(crate) fn pay_once(price: u128) -> Vec<u8> {
    asm(&format!(
        "STATE own\nNOT\nSKIP free\nBALANCE\nPUSHX {price}\nLT\nSKIP free\nPUSHX {price}\nPAY\nfree:\nOK\n"
    ))
}

fn create(name: &str) -> Payload {
    Payload::BoxCreate { name: name.into() }
}

fn push(name: &str, text: &str) -> Payload {
    Payload::BoxPush {
        name: name.into(),
        body: MessageBody::Data(text.as_bytes().to_vec()),
    }
}

fn set_gate(name: &str, kind: GateKind, code: Vec<u8>) -> Payload {
    Payload::BoxSetGate {
        name: name.into(),
        kind,
        code,
    }
}

fn failed_code(s: &TxStatus) -> Option<u16> {
    match s {
        TxStatus::Failed { code, .. } => Some(*code),
        TxStatus::Success => None,
    }
}

#[test]
fn create_charges_the_creation_fee_and_refuses_duplicates_and_look_alikes() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    let t = sim.tx(&alice, create("alice_inbox"));
    let fee = required_fee(&sim.params, &t);
    assert!(fee >= sim.params.fee_box_create);
    let out = sim.run(&[t]);
    assert_eq!(out.receipts[0].status, TxStatus::Success);
    assert_eq!(sim.balance(&alice.address()), START - fee);
    assert!(matches!(
        &out.receipts[0].events[0],
        Event::BoxCreated { id: 0, owner, .. } if *owner == alice.address()
    ));
    let (s, _) = sim.one(&bob, create("alice_inbox"));
    assert_eq!(failed_code(&s), Some(fail_codes::BOX_EXISTS));
    for look_alike in ["a1ice_inbox", "alice_lnbox", "aliceinbox"] {
        let (s, _) = sim.one(&bob, create(look_alike));
        assert_eq!(failed_code(&s), Some(fail_codes::BAD_NAME), "{look_alike}");
    }
    // Malformed names never reach a block: refused before execution.
    let t = sim.tx(&bob, create("Alice"));
    let out = sim.run(&[t]);
    assert!(matches!(out.rejected[0].1, TxInvalid::InvalidCall(_)));
    *sim.nonces.get_mut(&bob.address()).unwrap() -= 1;
    let (s, ev) = sim.one(&bob, create("bobs_box"));
    assert_eq!(s, TxStatus::Success);
    assert!(matches!(&ev[0], Event::BoxCreated { id: 1, .. }));
}

#[test]
fn default_write_gate_is_owner_only_and_a_refusal_costs_only_the_fee() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    sim.one(&alice, create("notes"));
    let before = sim.balance(&bob.address());
    let t = sim.tx(&bob, push("notes", "hi"));
    let fee = required_fee(&sim.params, &t);
    let out = sim.run(&[t]);
    assert_eq!(
        failed_code(&out.receipts[0].status),
        Some(fail_codes::GATE_REFUSED)
    );
    assert_eq!(sim.balance(&bob.address()), before - fee);
    assert!(!sim.state.0.contains_key(&keys::message("notes", 0)));
    let (s, ev) = sim.one(&alice, push("notes", "mine"));
    assert_eq!(s, TxStatus::Success);
    assert!(matches!(&ev[0], Event::MessagePushed { index: 0, .. }));
}

#[test]
fn pay_once_gate_charges_once_and_splits_95_5() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    sim.one(&alice, create("shop"));
    sim.one(&alice, push("shop", "item"));
    sim.one(
        &alice,
        set_gate("shop", GateKind::Read, pay_once(1_000_000)),
    );
    let (a0, b0, p0) = (
        sim.balance(&alice.address()),
        sim.balance(&bob.address()),
        sim.balance(&reward_pool()),
    );
    let t = sim.tx(
        &bob,
        Payload::BoxPull {
            name: "shop".into(),
            index: None,
        },
    );
    let out = sim.run(&[t]);
    let r = &out.receipts[0];
    assert_eq!(r.status, TxStatus::Success);
    assert!(r.events.iter().any(|e| matches!(
        e,
        Event::GatePaid {
            to_owner: 950_000,
            to_pool: 50_000,
            ..
        }
    )));
    assert_eq!(sim.balance(&bob.address()), b0 - r.fee_paid - 1_000_000);
    assert_eq!(sim.balance(&alice.address()), a0 + 950_000);
    assert_eq!(sim.balance(&reward_pool()), p0 + r.fee_paid + 50_000);
    // The fee covered the gate's gas bound.
    let bound = crate::boxes::query::gate(&sim.state, "shop", GateKind::Read)
        .unwrap()
        .unwrap()
        .gas_bound;
    assert!(bound > 0);
    // Second pull: already paid, only the fee.
    let b1 = sim.balance(&bob.address());
    let t = sim.tx(
        &bob,
        Payload::BoxPull {
            name: "shop".into(),
            index: Some(0),
        },
    );
    let out = sim.run(&[t]);
    assert_eq!(out.receipts[0].status, TxStatus::Success);
    assert_eq!(sim.balance(&bob.address()), b1 - out.receipts[0].fee_paid);
    // The owner reads free.
    let a1 = sim.balance(&alice.address());
    let t = sim.tx(
        &alice,
        Payload::BoxPull {
            name: "shop".into(),
            index: Some(0),
        },
    );
    let out = sim.run(&[t]);
    assert_eq!(sim.balance(&alice.address()), a1 - out.receipts[0].fee_paid);
}

#[test]
fn a_reader_who_cannot_pay_is_refused_and_charged_only_the_fee() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    sim.one(&alice, create("shop"));
    sim.one(&alice, push("shop", "item"));
    sim.one(
        &alice,
        set_gate("shop", GateKind::Read, pay_once(START * 2)),
    );
    let (a0, b0) = (sim.balance(&alice.address()), sim.balance(&bob.address()));
    let t = sim.tx(
        &bob,
        Payload::BoxPull {
            name: "shop".into(),
            index: None,
        },
    );
    let out = sim.run(&[t]);
    assert_eq!(
        failed_code(&out.receipts[0].status),
        Some(fail_codes::GATE_ERROR)
    );
    assert_eq!(sim.balance(&bob.address()), b0 - out.receipts[0].fee_paid);
    assert_eq!(sim.balance(&alice.address()), a0);
}

#[test]
fn gate_gas_is_charged_from_the_static_bound_and_a_short_max_fee_is_refused() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    sim.one(&alice, create("open"));
    sim.one(
        &alice,
        set_gate("open", GateKind::Write, asm("PUSHX 1\nPUSHX 2\nADD\nRET\n")),
    );
    let bound = crate::boxes::query::gate(&sim.state, "open", GateKind::Write)
        .unwrap()
        .unwrap()
        .gas_bound;
    let t = sim.tx(&bob, push("open", "x"));
    let base = required_fee(&sim.params, &t);
    let out = sim.run(&[t]);
    assert_eq!(out.receipts[0].status, TxStatus::Success);
    assert_eq!(
        out.receipts[0].fee_paid,
        base + sim.params.fee_per_gas * u128::from(bound)
    );
    let mut t = sim.tx(&bob, push("open", "y"));
    t.max_fee = base;
    let t = bob.sign_transaction(t.unsigned());
    let out = sim.run(&[t]);
    assert!(matches!(out.rejected[0].1, TxInvalid::FeeTooLow { .. }));
}

#[test]
fn subscription_gate_charges_again_after_the_period() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    sim.one(&alice, create("feed"));
    sim.one(&alice, push("feed", "quote"));
    // Period 10 s, price 500.
    let gate = asm("TIME\nPUSHX 10000\nGET\nSKIP ok\nPUSHX 500\nPAY\nok:\nOK\n");
    sim.one(&alice, set_gate("feed", GateKind::Read, gate));
    let pulls = |sim: &mut Sim| {
        let t = sim.tx(
            &bob,
            Payload::BoxPull {
                name: "feed".into(),
                index: None,
            },
        );
        let out = sim.run(&[t]);
        out.receipts[0]
            .events
            .iter()
            .filter(|e| matches!(e, Event::GatePaid { .. }))
            .count()
    };
    assert_eq!(pulls(&mut sim), 1);
    assert_eq!(pulls(&mut sim), 0); // 1 s later: still subscribed
    sim.time_ms += 20_000;
    assert_eq!(pulls(&mut sim), 1);
}

#[test]
fn allow_list_gate_lets_only_listed_readers_in() {
    let (alice, bob, carol) = (
        dev_keypair("alice"),
        dev_keypair("bob"),
        dev_keypair("carol"),
    );
    let mut sim = Sim::new(&[&alice, &bob, &carol]);
    sim.one(&alice, create("letters"));
    sim.one(&alice, push("letters", "issue 1"));
    sim.one(
        &alice,
        set_gate(
            "letters",
            GateKind::Read,
            asm("STATE listed\nSTATE own\nOR\nRET\n"),
        ),
    );
    let pull = Payload::BoxPull {
        name: "letters".into(),
        index: None,
    };
    let (s, _) = sim.one(&bob, pull.clone());
    assert_eq!(failed_code(&s), Some(fail_codes::GATE_REFUSED));
    let (s, _) = sim.one(
        &alice,
        Payload::BoxAllow {
            name: "letters".into(),
            address: bob.address(),
            allow: true,
        },
    );
    assert_eq!(s, TxStatus::Success);
    assert_eq!(sim.one(&bob, pull.clone()).0, TxStatus::Success);
    assert_eq!(
        failed_code(&sim.one(&carol, pull.clone()).0),
        Some(fail_codes::GATE_REFUSED)
    );
    // Only the owner edits the list.
    let (s, _) = sim.one(
        &carol,
        Payload::BoxAllow {
            name: "letters".into(),
            address: carol.address(),
            allow: true,
        },
    );
    assert_eq!(failed_code(&s), Some(fail_codes::NOT_OWNER));
}

#[test]
fn autoresponder_pushes_into_the_owners_outbox_only() {
    let (alice, bob) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut sim = Sim::new(&[&alice, &bob]);
    sim.one(&alice, create("alice_in"));
    sim.one(&alice, create("alice_out"));
    sim.one(&bob, create("bob_box"));
    let gate = |target: &str| {
        asm(&format!(
            "STATE caller\nPUSHDATA \" thanks\"\nCAT\nPUSHDATA \"{target}\"\nPUSH\nRET\n"
        ))
    };
    sim.one(
        &alice,
        set_gate("alice_in", GateKind::Write, gate("alice_out")),
    );
    let (s, ev) = sim.one(&bob, push("alice_in", "hello"));
    assert_eq!(s, TxStatus::Success, "{ev:?}");
    let reply: crate::boxes::Message =
        crate::boxes::state::load(&sim.state, &keys::message("alice_out", 0))
            .unwrap()
            .expect("reply pushed");
    assert_eq!(reply.from, keys::box_address("alice_in"));
    let MessageBody::Data(d) = reply.body else {
        panic!("data body")
    };
    assert_eq!(&d[..32], &bob.address().0);
    // Pointing the gate at someone else's box pushes nothing: PUSH answers 0,
    // and this gate returns that answer, so the write is refused.
    sim.one(
        &alice,
        set_gate("alice_in", GateKind::Write, gate("bob_box")),
    );
    let (s, _) = sim.one(&bob, push("alice_in", "again"));
    assert_eq!(failed_code(&s), Some(fail_codes::GATE_REFUSED));
    assert!(!sim.state.0.contains_key(&keys::message("bob_box", 0)));
}

#[test]
fn call_only_enters_older_boxes() {
    let alice = dev_keypair("alice");
    let mut sim = Sim::new(&[&alice]);
    sim.one(&alice, create("older"));
    sim.one(&alice, create("newer"));
    sim.one(&alice, push("older", "m"));
    sim.one(&alice, push("newer", "m"));
    sim.one(
        &alice,
        set_gate(
            "older",
            GateKind::Read,
            asm("PUSHDATA \"newer\"\nCALL 1000\nRET\n"),
        ),
    );
    sim.one(
        &alice,
        set_gate(
            "newer",
            GateKind::Read,
            asm("PUSHDATA \"older\"\nCALL 1000\nRET\n"),
        ),
    );
    let pull = |n: &str| Payload::BoxPull {
        name: n.into(),
        index: None,
    };
    let (s, _) = sim.one(&alice, pull("older"));
    assert_eq!(failed_code(&s), Some(fail_codes::GATE_ERROR));
    // newer → older → (older's gate calls newer: refused) → error all the way up.
    let (s, _) = sim.one(&alice, pull("newer"));
    assert_eq!(failed_code(&s), Some(fail_codes::GATE_ERROR));
    sim.one(&alice, set_gate("older", GateKind::Read, asm("OK\n")));
    assert_eq!(sim.one(&alice, pull("newer")).0, TxStatus::Success);
}

#[test]
fn oversized_messages_and_scripts_never_reach_a_block() {
    let alice = dev_keypair("alice");
    let mut sim = Sim::new(&[&alice]);
    sim.one(&alice, create("big"));
    let huge = "x".repeat(sim.params.max_message_bytes as usize + 1);
    let t = sim.tx(&alice, push("big", &huge));
    let out = sim.run(&[t]);
    assert!(matches!(out.rejected[0].1, TxInvalid::InvalidCall(_)));
    // A script whose bound is over the chain's limit.
    sim.params.max_gate_gas = 10;
    let t = sim.tx(
        &alice,
        set_gate(
            "big",
            GateKind::Write,
            asm("PUSHDATA \"a\"\nCALL 1000\nRET\n"),
        ),
    );
    let out = sim.run(&[t]);
    assert!(matches!(&out.rejected[0].1, TxInvalid::InvalidCall(m) if m.contains("gas bound")));
}

#[test]
fn parallel_executor_agrees_on_a_block_of_box_calls() {
    // Four independent pairs of accounts, each with two boxes: enough
    // separate groups to run in parallel. Pair 0's second box has an
    // autoresponder writing outside its declaration (the safety net must
    // re-run it), and every pair's first box charges once (owner credits).
    let names = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let ks: Vec<Keypair> = names.iter().map(|n| dev_keypair(n)).collect();
    let refs: Vec<&Keypair> = ks.iter().collect();
    let mut seq = Sim::new(&refs);
    for (i, k) in ks.iter().enumerate() {
        seq.one(k, create(&format!("box_{i}")));
        seq.one(k, push(&format!("box_{i}"), "first"));
    }
    seq.one(&ks[1], create("out_1"));
    for g in 0..4 {
        let (a, b) = (&ks[2 * g], &ks[2 * g + 1]);
        seq.one(
            a,
            set_gate(&format!("box_{}", 2 * g), GateKind::Read, pay_once(7_000)),
        );
        let write = if g == 0 {
            asm("STATE caller\nPUSHDATA \"out_1\"\nPUSH\nRET\n")
        } else {
            asm("OK\n")
        };
        seq.one(
            b,
            set_gate(&format!("box_{}", 2 * g + 1), GateKind::Write, write),
        );
    }
    let mut par = Sim {
        state: MemState(seq.state.0.clone()),
        nonces: Default::default(),
        height: seq.height,
        time_ms: seq.time_ms,
        params: seq.params.clone(),
    };
    let mut txs = Vec::new();
    for round in 0..20 {
        for g in 0..4 {
            for j in 0..2 {
                let k = &ks[2 * g + j];
                let p = match (round + j) % 4 {
                    0 => Payload::BoxPull {
                        name: format!("box_{}", 2 * g),
                        index: None,
                    },
                    1 => push(&format!("box_{}", 2 * g + 1), "hi"),
                    2 => Payload::Transfer {
                        to: ks[2 * g + 1 - j].address(),
                        amount: 3,
                    },
                    _ => push(&format!("box_{}", 2 * g + j), "own"),
                };
                txs.push(seq.tx(k, p));
            }
        }
    }
    par.nonces = seq.nonces.clone();
    let a = seq.run_with(&SequentialExecutor, &txs);
    let exec = ParallelExecutor::new(2).unwrap();
    let p = par.run_with(&exec, &txs);
    assert_eq!(a.included, p.included);
    assert_eq!(a.receipts, p.receipts);
    assert_eq!(a.changes, p.changes);
    assert_eq!(a.included.len(), txs.len());
    assert!(
        a.receipts
            .iter()
            .any(|r| r.events.iter().any(|e| matches!(e, Event::GatePaid { .. })))
    );
    let stats = exec.stats();
    assert!(stats.parallel_phases >= 1, "{stats:?}");
    assert!(
        stats.rerun_txs >= 1,
        "the autoresponder should have strayed: {stats:?}"
    );
    assert_eq!(stats.full_fallbacks, 0, "{stats:?}");

    // A block with no strays: unit writes stay in pending layers, and the
    // owners' end-of-block credits must still land on top of them.
    for g in 0..4 {
        let owner = &ks[2 * g + 1];
        let t = seq.tx(
            owner,
            set_gate(
                &format!("box_{}", 2 * g + 1),
                GateKind::Read,
                asm("PUSHX 500\nPAY\nOK\n"),
            ),
        );
        par.nonces = seq.nonces.clone();
        seq.run(std::slice::from_ref(&t));
        par.run(&[t]);
    }
    let mut txs = Vec::new();
    for round in 0..20 {
        for g in 0..4 {
            for j in 0..2 {
                let k = &ks[2 * g + j];
                // Pair 0's second box has the autoresponder: its owner
                // writes to its outbox instead.
                let own = if g == 0 && j == 1 {
                    "out_1".to_string()
                } else {
                    format!("box_{}", 2 * g + j)
                };
                let p = match (round + j) % 3 {
                    // Each reads the other's box; box_{2g+1} charges per read.
                    0 => Payload::BoxPull {
                        name: format!("box_{}", 2 * g + 1 - j),
                        index: None,
                    },
                    1 => Payload::Transfer {
                        to: ks[2 * g + 1 - j].address(),
                        amount: 3,
                    },
                    _ => push(&own, "own"),
                };
                txs.push(seq.tx(k, p));
            }
        }
    }
    let a = seq.run_with(&SequentialExecutor, &txs);
    let p = par.run_with(&exec, &txs);
    assert_eq!(a.receipts, p.receipts);
    assert_eq!(a.changes, p.changes);
    assert!(
        p.receipts
            .iter()
            .any(|r| r.events.iter().any(|e| matches!(e, Event::GatePaid { .. })))
    );
    let after = exec.stats();
    assert_eq!(after.rerun_txs, stats.rerun_txs, "{after:?}");
    assert!(after.parallel_phases > stats.parallel_phases, "{after:?}");
}

#[test]
fn a_gate_calling_its_own_box_is_refused() {
    let carol = dev_keypair("carol");
    let mut sim = Sim::new(&[&carol]);
    sim.one(&carol, create("selfcall"));
    sim.one(&carol, push("selfcall", "m"));
    sim.one(
        &carol,
        set_gate(
            "selfcall",
            GateKind::Read,
            asm("PUSHDATA \"selfcall\"\nCALL 5000\nRET\n"),
        ),
    );
    let (s, _) = sim.one(
        &carol,
        Payload::BoxPull {
            name: "selfcall".into(),
            index: None,
        },
    );
    assert_eq!(failed_code(&s), Some(fail_codes::GATE_ERROR), "{s:?}");
}
