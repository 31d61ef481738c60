//! Election calls through the real executors, on in-memory state.

use super::*;
use crate::boxes::tests::{START, Sim};
use crate::executor::SequentialExecutor;
use crate::fees::required_fee;
use crate::{ParallelExecutor, fail_codes};
use umbra_crypto::{Keypair, dev_keypair};
use umbra_types::{Hash, Payload, Signature, TxStatus};

const DEPOSIT: Amount = 5_000_000;

fn sim(keys: &[&Keypair]) -> Sim {
    let mut s = Sim::new(keys);
    s.params.candidate_deposit = DEPOSIT;
    s.params.min_vote_lock_ms = 10_000;
    s.params.miners = 2;
    s
}

fn code(status: &TxStatus) -> Option<u16> {
    match status {
        TxStatus::Failed { code, .. } => Some(*code),
        TxStatus::Success => None,
    }
}

fn fee_of(s: &mut Sim, k: &Keypair, p: Payload) -> Amount {
    let t = s.tx(k, p);
    // The nonce was used to build it; give it back.
    if let Some(n) = s.nonces.get_mut(&k.address()) {
        *n -= 1;
    }
    required_fee(&s.params, &t)
}

fn vote(candidate: &Keypair, amount: Amount, lock_ms: u64) -> Payload {
    Payload::ElectionVote {
        candidate: candidate.public(),
        amount,
        lock_ms,
    }
}

#[test]
fn announce_vote_withdraw_quit() {
    let (alice, bob, carol) = (
        dev_keypair("alice"),
        dev_keypair("bob"),
        dev_keypair("carol"),
    );
    let mut s = sim(&[&alice, &bob, &carol]);
    let announce_fee = fee_of(&mut s, &alice, Payload::ElectionAnnounce);
    let (st, ev) = s.one(&alice, Payload::ElectionAnnounce);
    assert_eq!(st, TxStatus::Success);
    assert_eq!(
        ev,
        vec![Event::CandidateAnnounced {
            candidate: alice.public(),
            deposit: DEPOSIT
        }]
    );
    assert_eq!(s.balance(&alice.address()), START - announce_fee - DEPOSIT);
    let (st, _) = s.one(&alice, Payload::ElectionAnnounce);
    assert_eq!(code(&st), Some(fail_codes::ALREADY_CANDIDATE));

    // Votes: too short a lock, zero, a non-candidate, then a good one.
    let (st, _) = s.one(&bob, vote(&alice, 100, 9_999));
    assert_eq!(code(&st), Some(fail_codes::BAD_VOTE));
    let (st, _) = s.one(&bob, vote(&alice, 0, 10_000));
    assert_eq!(code(&st), Some(fail_codes::BAD_VOTE));
    let (st, _) = s.one(&bob, vote(&carol, 100, 10_000));
    assert_eq!(code(&st), Some(fail_codes::NOT_CANDIDATE));
    let before = s.balance(&bob.address());
    let vote_fee = fee_of(&mut s, &bob, vote(&alice, 700, 10_000));
    let (st, ev) = s.one(&bob, vote(&alice, 700, 10_000));
    assert_eq!(st, TxStatus::Success);
    let Event::Voted {
        vote: id,
        unlock_ms,
        ..
    } = ev[0]
    else {
        panic!("expected a vote event, got {ev:?}");
    };
    assert_eq!(id, 0);
    assert_eq!(s.balance(&bob.address()), before - vote_fee - 700);
    let table = candidates(&s.state).unwrap();
    assert_eq!(table[0].key, alice.public());
    assert_eq!(table[0].record.votes, 700);

    // Locked until unlock_ms.
    let (st, _) = s.one(&bob, Payload::ElectionWithdraw { vote: 0 });
    assert_eq!(code(&st), Some(fail_codes::VOTE_LOCKED));
    s.time_ms = unlock_ms;
    let before = s.balance(&bob.address());
    let withdraw_fee = fee_of(&mut s, &bob, Payload::ElectionWithdraw { vote: 0 });
    let (st, _) = s.one(&bob, Payload::ElectionWithdraw { vote: 0 });
    assert_eq!(st, TxStatus::Success);
    assert_eq!(s.balance(&bob.address()), before - withdraw_fee + 700);
    assert_eq!(candidates(&s.state).unwrap()[0].record.votes, 0);
    let (st, _) = s.one(&bob, Payload::ElectionWithdraw { vote: 0 });
    assert_eq!(
        code(&st),
        Some(fail_codes::BAD_VOTE),
        "no double withdrawal"
    );

    // Quitting returns the deposit.
    let before = s.balance(&alice.address());
    let quit_fee = fee_of(&mut s, &alice, Payload::ElectionQuit);
    let (st, _) = s.one(&alice, Payload::ElectionQuit);
    assert_eq!(st, TxStatus::Success);
    assert_eq!(s.balance(&alice.address()), before - quit_fee + DEPOSIT);
    let (st, _) = s.one(&alice, Payload::ElectionQuit);
    assert_eq!(code(&st), Some(fail_codes::NOT_CANDIDATE));
}

#[test]
fn the_top_candidates_are_elected_once_enough_stand() {
    let ks: Vec<Keypair> = ["alice", "bob", "carol", "dave"].map(dev_keypair).to_vec();
    let refs: Vec<&Keypair> = ks.iter().collect();
    let mut s = sim(&refs);
    s.one(&ks[0], Payload::ElectionAnnounce);
    s.one(&ks[3], vote(&ks[0], 50, 10_000));
    assert_eq!(
        elected(&s.state, 2).unwrap(),
        vec![],
        "one candidate is not a term"
    );
    s.one(&ks[1], Payload::ElectionAnnounce);
    s.one(&ks[2], Payload::ElectionAnnounce);
    s.one(&ks[3], vote(&ks[1], 10, 10_000));
    s.one(&ks[3], vote(&ks[2], 80, 10_000));
    assert_eq!(
        elected(&s.state, 2).unwrap(),
        vec![ks[2].public(), ks[0].public()]
    );
    // A candidate that quits drops out.
    s.one(&ks[2], Payload::ElectionQuit);
    assert_eq!(
        elected(&s.state, 2).unwrap(),
        vec![ks[0].public(), ks[1].public()]
    );
}

fn signed_header(k: &Keypair, height: u64, salt: u8) -> Header {
    let mut block = umbra_types::Block {
        header: Header {
            chain_id: 7,
            height,
            parent_hash: Hash([salt; 32]),
            timestamp_ms: 5,
            proposer: k.public(),
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            consensus: vec![],
            signature: Signature::default(),
        },
        transactions: vec![],
    };
    k.sign_block(&mut block);
    block.header
}

#[test]
fn equivocation_evidence_slashes_the_deposit() {
    let (miner, reporter) = (dev_keypair("alice"), dev_keypair("bob"));
    let mut s = sim(&[&miner, &reporter]);
    s.one(&miner, Payload::ElectionAnnounce);
    let report = |a: Header, b: Header| Payload::ElectionReport {
        first: Box::new(a),
        second: Box::new(b),
    };
    let (a, b) = (signed_header(&miner, 9, 1), signed_header(&miner, 9, 2));
    // Not evidence: the same header twice, different heights, a forged
    // signature, another chain.
    for (x, y) in [
        (a.clone(), a.clone()),
        (a.clone(), signed_header(&miner, 10, 2)),
        (a.clone(), {
            let mut f = b.clone();
            f.signature = signed_header(&reporter, 9, 2).signature;
            f
        }),
        (a.clone(), {
            let mut f = b.clone();
            f.chain_id = 8;
            f
        }),
    ] {
        let (st, _) = s.one(&reporter, report(x, y));
        assert_eq!(code(&st), Some(fail_codes::BAD_EVIDENCE));
    }
    let before = s.balance(&reporter.address());
    let pool_before = s.balance(&crate::fees::reward_pool());
    let fee = fee_of(&mut s, &reporter, report(a.clone(), b.clone()));
    let (st, ev) = s.one(&reporter, report(a.clone(), b.clone()));
    assert_eq!(st, TxStatus::Success);
    let share = DEPOSIT / 10;
    assert_eq!(
        ev,
        vec![Event::MinerSlashed {
            miner: miner.public(),
            reporter: reporter.address(),
            to_reporter: share,
            to_pool: DEPOSIT - share,
        }]
    );
    assert_eq!(s.balance(&reporter.address()), before - fee + share);
    // The pool gets the rest of the deposit, plus this block's fee.
    assert_eq!(
        s.balance(&crate::fees::reward_pool()),
        pool_before + DEPOSIT - share + fee
    );
    let (st, _) = s.one(&reporter, report(a, b));
    assert_eq!(code(&st), Some(fail_codes::SLASHED));
    let (st, _) = s.one(&miner, Payload::ElectionAnnounce);
    assert_eq!(
        code(&st),
        Some(fail_codes::SLASHED),
        "a slashed key never stands again"
    );
}

#[test]
fn both_executors_agree_on_a_block_of_election_calls() {
    let ks: Vec<Keypair> = ["alice", "bob", "carol", "dave"].map(dev_keypair).to_vec();
    let refs: Vec<&Keypair> = ks.iter().collect();
    let mut seq = sim(&refs);
    let mut par = sim(&refs);
    let mut block = Vec::new();
    for s in [&mut seq, &mut par] {
        let txs = vec![
            s.tx(&ks[0], Payload::ElectionAnnounce),
            s.tx(&ks[1], vote(&ks[0], 30, 10_000)),
            s.tx(
                &ks[2],
                Payload::Transfer {
                    to: ks[3].address(),
                    amount: 5,
                },
            ),
            s.tx(&ks[1], Payload::ElectionAnnounce),
            s.tx(&ks[3], vote(&ks[1], 40, 10_000)),
            s.tx(&ks[0], Payload::ElectionQuit),
        ];
        block = txs;
    }
    let a = seq.run_with(&SequentialExecutor, &block);
    let b = par.run_with(&ParallelExecutor::new(2).unwrap(), &block);
    assert_eq!(a.changes, b.changes);
    assert_eq!(a.receipts, b.receipts);
    assert!(a.receipts.iter().all(|r| r.status == TxStatus::Success));
}
