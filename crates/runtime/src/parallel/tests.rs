//! The parallel executor must give exactly the sequential executor's output:
//! same receipts and events, same rejections, same state changes (hence the
//! same state root), same error in `Import` mode.

use super::*;
use crate::account::Account;
use crate::context::RefBlocks;
use crate::keys;
use crate::params::ChainParams;
use proptest::prelude::*;
use std::sync::OnceLock;
use umbra_crypto::Keypair;
use umbra_storage::MemState;
use umbra_types::{
    Address, Allocation, Grant, Hash, Payload, PublicKey, RefBlock, Signature, StorageMode, encode,
};

const CHAIN: u64 = 7;
const HEIGHT: u64 = 70;

struct Refs;
impl RefBlocks for Refs {
    fn hash_prefix(&self, height: u64) -> Option<[u8; 4]> {
        Some((height as u32).to_le_bytes())
    }
}

fn keys_pool() -> &'static [PublicKey] {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..256u32)
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                Keypair::from_seed(seed).public()
            })
            .collect()
    })
}

/// A shared receiver: usually an ordinary account; sometimes one of the
/// pools the block credits at its end, which must then see the transfers
/// of the parallel phase before its credit.
fn hot(amount: u128) -> Address {
    match amount % 8 {
        0 => crate::fees::reward_pool(),
        1 => crate::fees::storage_pool(),
        _ => Address::system("hot-account"),
    }
}

fn tx(sender: PublicKey, nonce: u64, to: Address, amount: u128) -> Transaction {
    Transaction {
        chain_id: CHAIN,
        sender,
        nonce,
        ref_block: RefBlock {
            height: 60,
            hash_prefix: 60u32.to_le_bytes(),
        },
        max_fee: 1_000_000_000,
        payload: Payload::Transfer { to, amount },
        signature: Signature::default(),
    }
}

fn genesis(accounts: usize, balance: impl Fn(usize) -> u128) -> MemState {
    let mut m = MemState::default();
    for (i, pk) in keys_pool().iter().take(accounts).enumerate() {
        m.0.insert(
            keys::account(&pk.address()),
            encode(&Account {
                balance: balance(i),
                nonce: 0,
            }),
        );
    }
    m
}

fn run(
    exec: &dyn Executor,
    st: &MemState,
    txs: &[Transaction],
    mode: ExecMode,
) -> Result<BlockOutput, String> {
    let params = ChainParams::default();
    let ctx = BlockContext {
        randomness: [3; 32],
        chain_id: CHAIN,
        height: HEIGHT,
        timestamp_ms: 1,
        proposer: Default::default(),
        params: &params,
        ref_blocks: &Refs,
    };
    exec.execute_block(st, &ctx, txs, mode)
        .map_err(|e| e.to_string())
}

fn assert_same(a: &Result<BlockOutput, String>, b: &Result<BlockOutput, String>) {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.included, b.included, "included");
            assert_eq!(a.receipts, b.receipts, "receipts");
            assert_eq!(a.rejected, b.rejected, "rejected");
            assert_eq!(a.changes, b.changes, "state changes");
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("one executor failed and the other did not: {a:?} vs {b:?}"),
    }
}

/// Declares only the sender for some transfers — a call that touches a key
/// it did not declare — and marks others as not parallelisable.
fn lying(t: &Transaction, from: &Address) -> ResourceSet {
    let mut rs = resources_of_sender(t, from);
    let Payload::Transfer { amount, .. } = t.payload else {
        return rs;
    };
    if amount % 5 == 0 {
        rs.writes.truncate(1);
    }
    if amount % 11 == 0 {
        rs.parallel = false;
    }
    rs
}

/// One generated transaction: sender, receiver (None = the hot account),
/// amount, a defect, and which call it is (mostly transfers).
#[derive(Clone, Debug)]
struct Spec {
    from: usize,
    to: Option<usize>,
    amount: u128,
    defect: u8,
    call: u8,
}

/// Contents the storage calls of the generator share.
const CONTENTS: u8 = 12;

fn content(n: u128) -> Hash {
    Hash([(n % u128::from(CONTENTS)) as u8 + 1; 32])
}

/// The call of a spec: a transfer, or (one in five) a storage call on one
/// of a few shared contents, so storage calls conflict with each other.
fn payload(s: &Spec, to: Address) -> Payload {
    let c = content(s.amount);
    let hour = crate::storage::HOUR_MS;
    match s.call {
        0..80 => Payload::Transfer {
            to,
            amount: s.amount,
        },
        80..88 => {
            let size = (s.amount % 700_000) as u64;
            Payload::StorageAlloc {
                content_id: c,
                size,
                blocks: umbra_types::content_blocks(size),
                replicas: 1 + (s.amount % 3) as u8,
                priority: (s.amount % 4) as u8,
                mode: if s.amount.is_multiple_of(2) {
                    StorageMode::ReadOnly
                } else {
                    StorageMode::Writable
                },
                period_ms: hour * (1 + (s.amount % 3) as u64),
                public: s.amount.is_multiple_of(5),
            }
        }
        88..93 => Payload::StorageRenew {
            content_id: c,
            period_ms: hour,
        },
        93..97 => Payload::StorageGrant {
            content_id: c,
            reader: to,
            wrapped_key: vec![7; 48],
        },
        97..99 => Payload::StorageCollect { content_id: c },
        _ if s.amount.is_multiple_of(2) => Payload::StorageRegister {
            peer_id: vec![(s.amount % 3) as u8; 8],
            addrs: vec![],
        },
        _ => Payload::StorageUnregister,
    }
}

/// Allocations already on chain: even contents expired (at the block's
/// time), odd ones live, some with grants, owned by the first accounts.
fn with_storage(m: &mut MemState, accounts: usize) {
    use crate::storage::keys as sk;
    let ks = keys_pool();
    let mut owned: std::collections::BTreeMap<Address, Vec<Hash>> = Default::default();
    let mut granted: std::collections::BTreeMap<Address, Vec<Hash>> = Default::default();
    for n in 0..CONTENTS {
        let id = content(u128::from(n));
        let owner = ks[usize::from(n) % accounts].address();
        let alloc = Allocation {
            owner,
            content_id: id,
            size: 10,
            blocks: 1,
            replicas: 1,
            priority: 1,
            mode: StorageMode::ReadOnly,
            public: n % 3 == 0,
            created_ms: 0,
            expires_ms: if n % 2 == 0 { 1 } else { 1 << 40 },
            paid: 5,
        };
        m.0.insert(sk::allocation(&id), encode(&alloc));
        owned.entry(owner).or_default().push(id);
        if n % 3 != 0 {
            let reader = ks[(usize::from(n) + 1) % accounts].address();
            let grant = Grant {
                content_id: id,
                owner,
                reader,
                wrapped_key: vec![1; 48],
                granted_ms: 0,
            };
            m.0.insert(sk::grant(&id, &reader), encode(&grant));
            m.0.insert(sk::readers(&id), encode(&vec![reader]));
            granted.entry(reader).or_default().push(id);
        }
    }
    for (a, list) in owned {
        m.0.insert(sk::owned(&a), encode(&list));
    }
    for (a, list) in granted {
        m.0.insert(sk::granted(&a), encode(&list));
    }
}

fn build(specs: &[Spec]) -> Vec<Transaction> {
    let ks = keys_pool();
    let mut nonces = vec![0u64; ks.len()];
    specs
        .iter()
        .map(|s| {
            let to = s.to.map_or_else(|| hot(s.amount), |i| ks[i].address());
            let n = nonces[s.from];
            let mut t = tx(ks[s.from], n, to, s.amount);
            t.payload = payload(s, to);
            match s.defect {
                0 => t.nonce = n + 1,                  // gap
                1 if n > 0 => t.nonce = n - 1,         // replay
                2 => t.max_fee = 1,                    // fee too low
                3 => t.ref_block.hash_prefix = [9; 4], // unknown ref block
                4 => t.chain_id = CHAIN + 1,
                _ => nonces[s.from] += 1,
            }
            t
        })
        .collect()
}

fn specs(accounts: usize) -> impl Strategy<Value = Vec<Spec>> {
    // Mostly few conflicts (so runs take the parallel path), sometimes a hot
    // account that every other transfer pays.
    let hot = prop_oneof![Just(0u32), 0u32..10, 0u32..=100];
    (hot, 0usize..260).prop_flat_map(move |(hot_pct, n)| {
        proptest::collection::vec(
            (
                0..accounts,
                0..accounts,
                0u32..100,
                0u128..2_000_000,
                0u8..60,
                0u8..100,
            )
                .prop_map(move |(from, to, roll, amount, defect, call)| Spec {
                    from,
                    to: (roll >= hot_pct).then_some(to),
                    amount,
                    defect,
                    call,
                }),
            n,
        )
    })
}

fn executors() -> &'static [ParallelExecutor] {
    static EX: OnceLock<Vec<ParallelExecutor>> = OnceLock::new();
    EX.get_or_init(|| {
        vec![
            ParallelExecutor::new(2).unwrap(),
            ParallelExecutor::new(3).unwrap(),
            ParallelExecutor::with_declarations(2, lying).unwrap(),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    // Random senders and receivers, a hot account, failed calls (amounts
    // above the balance), invalid transactions and nonce gaps, and storage
    // calls on shared contents (allocations taking over expired content
    // stray from their declaration; collections and registrations are
    // barriers).
    #[test]
    fn parallel_equals_sequential(
        accounts in prop_oneof![2usize..32, 160usize..256],
        specs in specs(256),
        poor in any::<bool>(),
        stored in any::<bool>(),
    ) {
        let specs: Vec<Spec> = specs.into_iter().map(|mut s| {
            s.from %= accounts;
            s.to = s.to.map(|t| t % accounts);
            s
        }).collect();
        let mut st = genesis(accounts, |i| if poor && i % 3 == 0 { 30_000 } else { 10_000_000 });
        if stored {
            with_storage(&mut st, accounts);
        }
        let txs = build(&specs);
        for mode in [ExecMode::Produce, ExecMode::Import] {
            let seq = run(&SequentialExecutor, &st, &txs, mode);
            for ex in executors() {
                assert_same(&seq, &run(ex, &st, &txs, mode));
            }
        }
    }
}

/// `count` transfers between fresh pairs of accounts, none conflicting.
fn independent(from: usize, count: usize) -> Vec<Transaction> {
    let ks = keys_pool();
    (0..count)
        .map(|i| {
            tx(
                ks[from + 2 * i],
                0,
                ks[from + 2 * i + 1].address(),
                1000 + i as u128 * 7 + 1,
            )
        })
        .collect()
}

#[test]
fn independent_transfers_run_in_parallel() {
    let st = genesis(256, |_| 10_000_000);
    let txs = independent(0, 120);
    let ex = ParallelExecutor::new(2).unwrap();
    assert_same(
        &run(&SequentialExecutor, &st, &txs, ExecMode::Import),
        &run(&ex, &st, &txs, ExecMode::Import),
    );
    let s = ex.stats();
    assert_eq!(
        (s.parallel_phases, s.sequential_phases, s.rerun_txs),
        (1, 0, 0)
    );
}

#[test]
fn a_transfer_to_the_reward_pool_in_a_work_unit_keeps_the_block_fees() {
    // The pool's new balance sits in a unit's layer; the fees are credited
    // at the end of the block and must land on top of it, not under it.
    let st = genesis(256, |_| 10_000_000);
    let ks = keys_pool();
    let mut txs = independent(0, 120);
    txs.insert(60, tx(ks[250], 0, crate::fees::reward_pool(), 777));
    let ex = ParallelExecutor::new(2).unwrap();
    assert_same(
        &run(&SequentialExecutor, &st, &txs, ExecMode::Import),
        &run(&ex, &st, &txs, ExecMode::Import),
    );
    assert_eq!(ex.stats().parallel_phases, 1);
}

#[test]
fn one_dominant_group_runs_sequentially() {
    let st = genesis(256, |_| 10_000_000);
    let ks = keys_pool();
    let txs: Vec<_> = (0..100).map(|i| tx(ks[i], 0, hot(5), 5)).collect();
    let ex = ParallelExecutor::new(2).unwrap();
    assert_same(
        &run(&SequentialExecutor, &st, &txs, ExecMode::Import),
        &run(&ex, &st, &txs, ExecMode::Import),
    );
    let s = ex.stats();
    assert_eq!((s.parallel_phases, s.sequential_phases), (0, 1));
}

fn truncating(t: &Transaction, from: &Address) -> ResourceSet {
    let mut rs = resources_of_sender(t, from);
    if let Payload::Transfer { amount: 5, .. } = t.payload {
        rs.writes.truncate(1);
    }
    rs
}

#[test]
fn undeclared_key_on_its_own_is_rerun_not_dropped() {
    // Transaction 0 writes its receiver without declaring it; nobody else
    // touches that receiver, so the re-run is independent and kept.
    let st = genesis(256, |_| 10_000_000);
    let ks = keys_pool();
    let mut txs = vec![tx(ks[250], 0, ks[251].address(), 5)];
    txs.extend(independent(0, 100));
    let ex = ParallelExecutor::with_declarations(2, truncating).unwrap();
    let out = run(&ex, &st, &txs, ExecMode::Import);
    assert_same(&run(&SequentialExecutor, &st, &txs, ExecMode::Import), &out);
    let s = ex.stats();
    assert!(s.strayed_units >= 1 && s.rerun_txs >= 1, "{s:?}");
    assert_eq!(s.full_fallbacks, 0);
    assert_eq!(out.unwrap().included.len(), 101);
}

#[test]
fn undeclared_key_another_group_uses_forces_sequential_block() {
    // Transaction 0 secretly writes the receiver of the block's last
    // transaction (a different group by declaration, and a different work
    // unit: one-transaction groups are handed out in block order): order
    // matters, so the block must be re-executed sequentially.
    let st = genesis(256, |_| 10_000_000);
    let ks = keys_pool();
    let mut txs = vec![tx(ks[250], 0, ks[199].address(), 5)];
    txs.extend(independent(0, 100));
    let ex = ParallelExecutor::with_declarations(2, truncating).unwrap();
    assert_same(
        &run(&SequentialExecutor, &st, &txs, ExecMode::Produce),
        &run(&ex, &st, &txs, ExecMode::Produce),
    );
    assert_eq!(ex.stats().full_fallbacks, 1);
}

#[test]
fn import_reports_the_first_invalid_transaction() {
    let st = genesis(256, |_| 10_000_000);
    let mut txs = independent(0, 100);
    txs[70].nonce = 3;
    txs[30].chain_id = 99;
    let ex = ParallelExecutor::new(2).unwrap();
    let seq = run(&SequentialExecutor, &st, &txs, ExecMode::Import);
    assert!(seq.as_ref().unwrap_err().starts_with("transaction 30 "));
    assert_same(&seq, &run(&ex, &st, &txs, ExecMode::Import));
}

#[test]
fn absurd_thread_counts_are_refused() {
    let e = ParallelExecutor::new(MAX_THREADS + 1)
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|m| m.contains("at most 256")));
    assert!(ParallelExecutor::new(0).is_ok_and(|p| p.threads() >= 1));
}
