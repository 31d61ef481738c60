//! Fork choice on real stores: three AEDPoS miners, blocks produced with
//! controlled clocks so two branches exist, and chains that must switch to
//! the branch that makes more irreversible, then the longer one — or stay
//! put when the preferred one hides an invalid block.

use umbra_crypto::{Keypair, dev_keypair};
use umbra_node::chain::{Chain, ImportError, Received};
use umbra_node::dev_spec;
use umbra_runtime::SequentialExecutor;
use umbra_storage::{Store, StoreConfig};
use umbra_types::{Block, Payload, RefBlock, Transaction, UnsignedTransaction};

fn miners() -> Vec<Keypair> {
    (0..3u8).map(|i| Keypair::from_seed([i + 1; 32])).collect()
}

fn open(dir: &std::path::Path) -> Chain {
    let (mut spec, _) = dev_spec(500, 1_000);
    spec.consensus.engine = "aedpos".into();
    spec.consensus.authorities = miners().iter().map(Keypair::public).collect();
    spec.params.miners = 3;
    let store = Store::open(dir, StoreConfig::default()).unwrap();
    let engine = spec.consensus_engine(500).unwrap();
    Chain::open(store, spec, engine, Box::new(SequentialExecutor)).unwrap()
}

fn transfer(chain: &Chain, nonce: u64, amount: u128) -> Transaction {
    let k = dev_keypair("alice");
    let head = chain.head();
    k.sign_transaction(UnsignedTransaction {
        chain_id: chain.spec().chain_id,
        sender: k.public(),
        nonce,
        ref_block: RefBlock::new(head.height, &head.hash()),
        max_fee: 1_000_000,
        payload: Payload::Transfer {
            to: dev_keypair("bob").address(),
            amount,
        },
    })
}

/// `key` produces (and commits) on `chain` at `now`.
fn mine(chain: &Chain, key: &Keypair, txs: &[Transaction], now: u64) -> Block {
    let ex = chain
        .produce(key, txs, now)
        .unwrap_or_else(|e| panic!("cannot produce at {now}: {e}"));
    let b = ex.block.clone();
    chain.commit(ex).unwrap();
    b
}

fn bob(chain: &Chain) -> u128 {
    chain
        .account(&dev_keypair("bob").address())
        .unwrap()
        .balance
}

// Round 1 starts one slot after genesis (1_000 + 500): miner k's slot is
// [1_500 + 500·(k−1), +500); the extra slot, where miner 1 closes the
// round, starts at 3_000 (and the next round starts at the closing block).
#[test]
fn the_longer_branch_wins_and_an_invalid_one_is_undone() {
    let m = miners();
    let (da, db, dc) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (a, b, c) = (open(da.path()), open(db.path()), open(dc.path()));
    let now = 10_000_000;

    // Branch A: miner 1, then miner 2 with a transfer of 5.
    let a1 = mine(&a, &m[0], &[], 1_500);
    let a2 = mine(&a, &m[1], &[transfer(&a, 0, 5)], 2_000);
    // Branch B shares a1; miner 2 is silent, miner 3 moves 7, miner 1 closes.
    assert!(matches!(
        b.receive(a1.clone(), now),
        Ok(Received::Extended(_))
    ));
    let b2 = mine(&b, &m[2], &[transfer(&b, 0, 7)], 2_500);
    let b3 = mine(&b, &m[0], &[], 3_000);

    // A sees B's blocks: b2 is no longer than A's head, b3 makes B longer.
    assert!(matches!(a.receive(b2.clone(), now), Ok(Received::Side)));
    assert_eq!(a.head().hash(), a2.hash());
    match a.receive(b3.clone(), now) {
        Ok(Received::Reorganised { reverted, applied }) => {
            assert_eq!(reverted, vec![a2.clone()]);
            assert_eq!(
                applied.iter().map(|h| h.hash()).collect::<Vec<_>>(),
                vec![b2.hash(), b3.hash()]
            );
        }
        other => panic!("expected a reorganisation, got {other:?}"),
    }
    assert_eq!(a.head(), b.head());
    assert_eq!(a.head().state_root, b3.header.state_root);
    // A's transfer of 5 is gone with a2; B's 7 arrived.
    assert_eq!(bob(&a), bob(&b));
    assert!(matches!(a.receive(b3.clone(), now), Ok(Received::Known)));
    // The abandoned a2 is kept aside, so A can switch back if its branch grows.
    assert_eq!(a.side_blocks(), 1);

    // C follows branch A; miner 3 builds on it with a forged state root.
    for blk in [&a1, &a2] {
        assert!(matches!(
            c.receive(blk.clone(), now),
            Ok(Received::Extended(_))
        ));
    }
    let mut forged = c.produce(&m[2], &[], 2_500).map(|ex| ex.block).unwrap();
    forged.header.state_root = umbra_types::sha256(b"forged");
    m[2].sign_block(&mut forged);

    // To A, [a2, forged] would make a1 irreversible (all three miners built
    // on it) where B's branch makes nothing irreversible, so A switches
    // although the branch is no longer, finds the forged block, and goes
    // back to B's branch, whose blocks stay intact.
    let head_before = a.head();
    let bob_before = bob(&a);
    let err = a.receive(forged.clone(), now).unwrap_err();
    assert!(
        matches!(err, ImportError::StateRootMismatch { .. }),
        "{err}"
    );
    assert!(err.is_invalid_block());
    assert_eq!(a.head(), head_before);
    assert_eq!(bob(&a), bob_before);
    for h in 1..=head_before.height {
        assert_eq!(
            a.store().header(h).unwrap().unwrap().hash(),
            b.store().header(h).unwrap().unwrap().hash()
        );
    }
    // The valid part of that branch (a2) stays kept for later; the forged
    // block is not.
    assert_eq!(a.side_blocks(), 1);

    // A block whose parent nobody here has is an orphan: a reason to sync.
    let mut lone = b3.clone();
    lone.header.parent_hash = umbra_types::sha256(b"unknown parent");
    m[0].sign_block(&mut lone);
    assert!(matches!(a.receive(lone, now), Ok(Received::Orphan)));
}

/// The branch whose own irreversible height is higher wins even when it is
/// shorter: length alone let nodes that had finalised a block and nodes
/// that followed a longer branch without it stall apart for good (the
/// consensus simulation found such a run).
#[test]
fn a_branch_that_finalises_more_beats_a_longer_one() {
    let m = miners();
    let (dx, dy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (x, y) = (open(dx.path()), open(dy.path()));
    let now = 10_000_000;
    let a1 = mine(&x, &m[0], &[], 1_500);
    assert!(matches!(
        y.receive(a1.clone(), now),
        Ok(Received::Extended(_))
    ));
    // X: every miner builds once; three of three at height ≥ 1 make a1
    // irreversible.
    let x2 = mine(&x, &m[1], &[], 2_000);
    let x3 = mine(&x, &m[2], &[], 2_500);
    assert_eq!(x.irreversible_height(), 1);
    // Y: miner 1 adds two tiny blocks, miner 2 is silent, miner 3 builds:
    // one block longer, but only two miners, so nothing is irreversible.
    let y2 = mine(&y, &m[0], &[], 1_600);
    let y3 = mine(&y, &m[0], &[], 1_700);
    let y4 = mine(&y, &m[2], &[], 2_500);
    assert_eq!(y.irreversible_height(), 0);
    assert_eq!(y.head().height, x.head().height + 1);

    // X is offered the longer Y and keeps its own branch.
    for b in [&y2, &y3, &y4] {
        assert!(matches!(x.receive(b.clone(), now), Ok(Received::Side)));
    }
    assert_eq!(x.head().hash(), x3.hash());
    // Y is offered the shorter X and switches to it.
    assert!(matches!(y.receive(x2.clone(), now), Ok(Received::Side)));
    match y.receive(x3.clone(), now) {
        Ok(Received::Reorganised { reverted, applied }) => {
            assert_eq!(reverted, vec![y2, y3, y4]);
            assert_eq!(
                applied.iter().map(|h| h.hash()).collect::<Vec<_>>(),
                vec![x2.hash(), x3.hash()]
            );
        }
        other => panic!("expected a reorganisation, got {other:?}"),
    }
    assert_eq!(y.head(), x.head());
    assert_eq!(y.irreversible_height(), 1);
}

/// A miner that signs two blocks at one height is caught by a node that
/// sees both, and the report it builds slashes the miner's deposit.
#[test]
fn an_equivocating_miner_is_reported_and_slashed() {
    use parking_lot::Mutex;
    use umbra_node::{Mempool, MempoolConfig, evidence::report_tx};
    use umbra_runtime::election;

    let m = miners();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open_funded = |dir: &std::path::Path| {
        let (mut spec, _) = dev_spec(500, 1_000);
        spec.consensus.engine = "aedpos".into();
        spec.consensus.authorities = m.iter().map(Keypair::public).collect();
        spec.params.miners = 3;
        let amount = spec.balances[0].amount.clone();
        spec.balances.push(umbra_node::spec::GenesisBalance {
            address: m[1].address(),
            amount,
            name: None,
        });
        let store = Store::open(dir, StoreConfig::default()).unwrap();
        let engine = spec.consensus_engine(500).unwrap();
        Chain::open(store, spec, engine, Box::new(SequentialExecutor)).unwrap()
    };
    let (a, b) = (open_funded(da.path()), open_funded(db.path()));
    let now = 10_000_000;
    let head = a.head();
    let announce = m[1].sign_transaction(UnsignedTransaction {
        chain_id: a.spec().chain_id,
        sender: m[1].public(),
        nonce: 0,
        ref_block: RefBlock::new(head.height, &head.hash()),
        max_fee: 1_000_000_000,
        payload: Payload::ElectionAnnounce,
    });
    let a1 = mine(&a, &m[0], &[announce], 1_500);
    assert_eq!(a1.transactions.len(), 1);
    assert!(matches!(b.receive(a1, now), Ok(Received::Extended(_))));
    // Miner 2 signs two different blocks in its slot, one on each chain.
    let first = mine(&a, &m[1], &[], 2_000);
    let second = mine(&b, &m[1], &[transfer(&b, 0, 1)], 2_100);
    assert_ne!(first.hash(), second.hash());
    assert!(a.take_evidence().is_empty());
    assert!(matches!(a.receive(second.clone(), now), Ok(Received::Side)));
    let evidence = a.take_evidence();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].first.proposer, m[1].public());
    // Seen once, reported once.
    assert!(a.take_evidence().is_empty());

    let mempool = Mutex::new(Mempool::new(MempoolConfig::default()));
    let reporter = dev_keypair("carol");
    let tx = report_tx(&a, &mempool, &reporter, &evidence[0]).expect("a report");
    let a3 = mine(&a, &m[2], &[tx], 2_500);
    assert_eq!(a3.transactions.len(), 1);
    let receipts = a.store().receipts(a3.header.height).unwrap().unwrap();
    assert!(
        matches!(receipts[0].status, umbra_types::TxStatus::Success),
        "{:?}",
        receipts[0].status
    );
    let state = a.store().state_at(a.head().height);
    let record = election::candidates(&state)
        .unwrap()
        .into_iter()
        .find(|c| c.key == m[1].public())
        .unwrap()
        .record;
    assert!(record.slashed);
    assert_eq!(record.deposit, 0);
    // A slashed miner is not worth a second report.
    assert!(report_tx(&a, &mempool, &reporter, &evidence[0]).is_none());
}
