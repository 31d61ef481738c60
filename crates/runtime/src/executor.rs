//! Block execution behind one interface, so the node does not care whether
//! transactions run one by one or in parallel.

use crate::context::BlockContext;
use crate::error::{ExecError, TxInvalid};
use crate::fees::{required_fee, reward_pool, storage_pool};
use crate::overlay::Overlay;
use crate::parallel::ExecStatsSnapshot;
use crate::validate::{check_ref_block, check_stateless};
use crate::{Changes, keys, token};
use std::collections::BTreeMap;
use umbra_storage::StateView;
use umbra_types::{Address, Amount, Event, Payload, Receipt, Transaction, TxStatus, encode};

/// Whether invalid transactions are skipped (the proposer building a block) or
/// make the whole block invalid (an importer checking someone's block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecMode {
    Produce,
    Import,
}

/// Result of executing a block.
#[derive(Debug, Default)]
pub struct BlockOutput {
    /// Indices (into the input) of the transactions that made it into the block.
    pub included: Vec<usize>,
    /// Receipts of the included transactions, in block order.
    pub receipts: Vec<Receipt>,
    /// Input transactions left out, with the reason (only in `Produce` mode).
    pub rejected: Vec<(usize, TxInvalid)>,
    /// The block's state changes, including the block record and fees.
    pub changes: Changes,
}

/// Executes the transactions of one block against the pre-state.
///
/// Signatures must have been verified by the caller.
pub trait Executor: Send + Sync {
    fn execute_block(
        &self,
        state: &(dyn StateView + Sync),
        ctx: &BlockContext<'_>,
        txs: &[Transaction],
        mode: ExecMode,
    ) -> Result<BlockOutput, ExecError>;

    /// What kind of executor this is and what it has done so far.
    fn info(&self) -> ExecutorInfo {
        ExecutorInfo {
            kind: "sequential",
            threads: 1,
            stats: ExecStatsSnapshot::default(),
        }
    }
}

/// An executor's self-description, shown by `node_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExecutorInfo {
    pub kind: &'static str,
    pub threads: usize,
    pub stats: ExecStatsSnapshot,
}

/// Runs transactions one after another in block order.
#[derive(Clone, Copy, Debug, Default)]
pub struct SequentialExecutor;

impl Executor for SequentialExecutor {
    fn execute_block(
        &self,
        state: &(dyn StateView + Sync),
        ctx: &BlockContext<'_>,
        txs: &[Transaction],
        mode: ExecMode,
    ) -> Result<BlockOutput, ExecError> {
        execute_in_order(state, ctx, txs, mode, &[])
    }
}

/// The sequential executor's block run. `known` holds the sender addresses
/// of a prefix of `txs` already derived (by the parallel executor's look at
/// the block's start), so they are not hashed twice; each must be that
/// transaction's `sender_address()`.
pub(crate) fn execute_in_order(
    state: &(dyn StateView + Sync),
    ctx: &BlockContext<'_>,
    txs: &[Transaction],
    mode: ExecMode,
    known: &[Address],
) -> Result<BlockOutput, ExecError> {
    let mut overlay = Overlay::new(state);
    begin_block(&mut overlay, ctx);
    let mut out = BlockOutput::default();
    let mut credits = Credits::default();
    for (i, tx) in txs.iter().enumerate() {
        let from = known.get(i).copied().unwrap_or_else(|| tx.sender_address());
        match apply_transaction_as(&mut overlay, ctx, tx, from)? {
            Ok(receipt) => {
                credits.add(&receipt);
                out.included.push(i);
                out.receipts.push(receipt);
            }
            Err(reason) => match mode {
                ExecMode::Import => return Err(ExecError::InvalidTx { index: i, reason }),
                ExecMode::Produce => out.rejected.push((i, reason)),
            },
        }
    }
    end_block(&mut overlay, &credits)?;
    out.changes = overlay.into_changes();
    Ok(out)
}

/// Commutative credits a block owes, applied once at its end: fees and the
/// pool's share of gate payments to the reward pool, the rest of gate
/// payments to box owners, storage payments to the storage pool. Keeping
/// them out of the transactions means fees never make transactions
/// conflict, and both executors credit at the same point. Sums saturate,
/// which for non-negative amounts gives the same result in any order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credits {
    pub pool: Amount,
    /// Storage allocations and renewals, for the storage pool.
    pub storage: Amount,
    /// Ordered, so crediting order never depends on a hash.
    pub owners: BTreeMap<Address, Amount>,
}

impl Credits {
    /// Adds what an included transaction's receipt says is owed.
    pub fn add(&mut self, r: &Receipt) {
        self.pool = self.pool.saturating_add(r.fee_paid);
        for e in &r.events {
            match e {
                Event::GatePaid {
                    owner,
                    to_owner,
                    to_pool,
                    ..
                } => {
                    self.pool = self.pool.saturating_add(*to_pool);
                    let o = self.owners.entry(*owner).or_default();
                    *o = o.saturating_add(*to_owner);
                }
                Event::StorageAllocated { paid, .. } | Event::StorageRenewed { paid, .. } => {
                    self.storage = self.storage.saturating_add(*paid);
                }
                _ => {}
            }
        }
    }

    pub fn merge(&mut self, other: Credits) {
        self.pool = self.pool.saturating_add(other.pool);
        self.storage = self.storage.saturating_add(other.storage);
        for (a, v) in other.owners {
            let o = self.owners.entry(a).or_default();
            *o = o.saturating_add(v);
        }
    }

    /// The state keys of the accounts this block credits.
    pub fn account_keys(&self) -> Vec<Vec<u8>> {
        [reward_pool(), storage_pool()]
            .iter()
            .chain(self.owners.keys())
            .map(keys::account)
            .collect()
    }
}

/// Writes the block record; every block changes state through it.
pub fn begin_block(overlay: &mut Overlay<'_>, ctx: &BlockContext<'_>) {
    overlay.put(keys::block_info(), encode(&(ctx.height, ctx.timestamp_ms)));
}

/// Applies the block's credits: the reward pool first, the storage pool,
/// then box owners in address order.
pub fn end_block(overlay: &mut Overlay<'_>, credits: &Credits) -> Result<(), ExecError> {
    let pools = [
        (reward_pool(), credits.pool),
        (storage_pool(), credits.storage),
    ];
    for (addr, amount) in pools
        .into_iter()
        .chain(credits.owners.iter().map(|(a, v)| (*a, *v)))
    {
        if amount == 0 {
            continue;
        }
        let mut acct = overlay.account(&addr)?;
        acct.balance = acct.balance.saturating_add(amount);
        overlay.set_account(&addr, &acct);
    }
    Ok(())
}

/// Applies one transaction. `Ok(Err(_))` means the transaction cannot be
/// included and the overlay is unchanged; `Err(_)` is a state failure that
/// stops the block.
///
/// The fee is taken and the nonce bumped before the call runs; the call's own
/// writes happen in a child overlay that is dropped if the call fails. The fee
/// itself is returned in the receipt and credited at the end of the block.
pub fn apply_transaction(
    overlay: &mut Overlay<'_>,
    ctx: &BlockContext<'_>,
    tx: &Transaction,
) -> Result<Result<Receipt, TxInvalid>, ExecError> {
    apply_transaction_as(overlay, ctx, tx, tx.sender_address())
}

/// [`apply_transaction`] with the sender's address already derived from
/// `tx.sender` (a hash): the parallel executor derives it once, for the
/// declaration and the execution. `from` must be `tx.sender_address()`;
/// crate-private so no caller outside can run a transaction as someone else.
pub(crate) fn apply_transaction_as(
    overlay: &mut Overlay<'_>,
    ctx: &BlockContext<'_>,
    tx: &Transaction,
    from: Address,
) -> Result<Result<Receipt, TxInvalid>, ExecError> {
    debug_assert_eq!(from, tx.sender_address());
    if let Err(e) = check_stateless(tx, ctx.chain_id, ctx.params) {
        return Ok(Err(e));
    }
    if let Err(e) = check_ref_block(tx, ctx.height, ctx.params, ctx.ref_blocks) {
        return Ok(Err(e));
    }
    let fee = required_fee(ctx.params, tx).saturating_add(crate::boxes::gas_fee(
        overlay,
        ctx.params,
        &tx.payload,
    )?);
    if tx.max_fee < fee {
        return Ok(Err(TxInvalid::FeeTooLow {
            max_fee: tx.max_fee,
            required: fee,
        }));
    }
    let mut sender = overlay.account(&from)?;
    if tx.nonce < sender.nonce {
        return Ok(Err(TxInvalid::NonceTooLow {
            expected: sender.nonce,
            got: tx.nonce,
        }));
    }
    if tx.nonce > sender.nonce {
        return Ok(Err(TxInvalid::NonceGap {
            expected: sender.nonce,
            got: tx.nonce,
        }));
    }
    if sender.balance < fee {
        return Ok(Err(TxInvalid::InsufficientBalance {
            needed: fee,
            available: sender.balance,
        }));
    }
    sender.balance -= fee;
    sender.nonce += 1;
    overlay.set_account(&from, &sender);

    let call = {
        let mut child = Overlay::new(&*overlay);
        let r = match &tx.payload {
            Payload::Transfer { to, amount } => token::transfer(&mut child, &from, to, *amount)?,
            Payload::ElectionAnnounce
            | Payload::ElectionQuit
            | Payload::ElectionVote { .. }
            | Payload::ElectionWithdraw { .. }
            | Payload::ElectionReport { .. } => {
                let env = crate::election::ElectionEnv {
                    chain_id: ctx.chain_id,
                    height: ctx.height,
                    timestamp_ms: ctx.timestamp_ms,
                    params: ctx.params,
                };
                crate::election::dispatch(&mut child, &env, tx)?
            }
            p if crate::storage::is_storage_call(p) => {
                let env = crate::storage::StorageEnv {
                    timestamp_ms: ctx.timestamp_ms,
                    params: ctx.params,
                };
                crate::storage::dispatch(&mut child, &env, &from, p)?
            }
            other => {
                let env = crate::boxes::GateEnv {
                    height: ctx.height,
                    timestamp_ms: ctx.timestamp_ms,
                    randomness: ctx.randomness,
                    params: ctx.params,
                };
                crate::boxes::dispatch(&mut child, &env, &from, other)?
            }
        };
        r.map(|events| (events, child.into_writes()))
    };
    let (status, events) = match call {
        Ok((events, writes)) => {
            overlay.absorb(writes);
            (TxStatus::Success, events)
        }
        Err(f) => (
            TxStatus::Failed {
                code: f.code,
                reason: f.reason,
            },
            vec![],
        ),
    };
    Ok(Ok(Receipt {
        tx_hash: tx.hash(),
        status,
        fee_paid: fee,
        events,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Account;
    use crate::context::RefBlocks;
    use crate::fees::reward_pool;
    use crate::params::ChainParams;
    use proptest::prelude::*;
    use umbra_crypto::{Keypair, dev_keypair};
    use umbra_storage::MemState;
    use umbra_types::{Address, Event, RefBlock, UnsignedTransaction, decode_bounded};

    struct Refs;
    impl RefBlocks for Refs {
        fn hash_prefix(&self, height: u64) -> Option<[u8; 4]> {
            Some((height as u32).to_le_bytes())
        }
    }

    fn ref_at(h: u64) -> RefBlock {
        RefBlock {
            height: h,
            hash_prefix: (h as u32).to_le_bytes(),
        }
    }

    fn tx(k: &Keypair, nonce: u64, to: Address, amount: u128) -> Transaction {
        k.sign_transaction(UnsignedTransaction {
            chain_id: 7,
            sender: k.public(),
            nonce,
            ref_block: ref_at(60),
            max_fee: 1_000_000_000,
            payload: Payload::Transfer { to, amount },
        })
    }

    fn state(balances: &[(Address, u128)]) -> MemState {
        let mut m = MemState::default();
        for (a, b) in balances {
            m.0.insert(
                keys::account(a),
                encode(&Account {
                    balance: *b,
                    nonce: 0,
                }),
            );
        }
        m
    }

    fn run(st: &MemState, txs: &[Transaction], mode: ExecMode) -> Result<BlockOutput, ExecError> {
        let params = ChainParams::default();
        let ctx = BlockContext {
            chain_id: 7,
            height: 70,
            timestamp_ms: 1,
            proposer: Default::default(),
            randomness: [0; 32],
            params: &params,
            ref_blocks: &Refs,
        };
        SequentialExecutor.execute_block(st, &ctx, txs, mode)
    }

    fn account_after(st: &MemState, out: &BlockOutput, a: &Address) -> Account {
        let v = out
            .changes
            .get(&keys::account(a))
            .cloned()
            .flatten()
            .or_else(|| st.0.get(&keys::account(a)).cloned());
        v.map(|b| decode_bounded(&b, 1024).unwrap())
            .unwrap_or_default()
    }

    #[test]
    fn transfer_moves_funds_and_pays_fee() {
        let (a, b) = (dev_keypair("alice"), dev_keypair("bob"));
        let st = state(&[(a.address(), 1_000_000_000)]);
        let t = tx(&a, 0, b.address(), 100);
        let fee = required_fee(&ChainParams::default(), &t);
        let out = run(&st, std::slice::from_ref(&t), ExecMode::Import).unwrap();
        assert_eq!(out.receipts[0].status, TxStatus::Success);
        assert_eq!(out.receipts[0].fee_paid, fee);
        assert_eq!(
            out.receipts[0].events,
            vec![Event::Transfer {
                from: a.address(),
                to: b.address(),
                amount: 100
            }]
        );
        assert_eq!(
            account_after(&st, &out, &a.address()),
            Account {
                balance: 1_000_000_000 - 100 - fee,
                nonce: 1
            }
        );
        assert_eq!(account_after(&st, &out, &b.address()).balance, 100);
        assert_eq!(account_after(&st, &out, &reward_pool()).balance, fee);
    }

    #[test]
    fn failed_call_keeps_fee_and_nonce_only() {
        let (a, b) = (dev_keypair("alice"), dev_keypair("bob"));
        let st = state(&[(a.address(), 1_000_000)]);
        let t = tx(&a, 0, b.address(), 10_000_000);
        let fee = required_fee(&ChainParams::default(), &t);
        let out = run(&st, &[t], ExecMode::Import).unwrap();
        assert!(matches!(
            out.receipts[0].status,
            TxStatus::Failed { code: 1, .. }
        ));
        assert_eq!(
            account_after(&st, &out, &a.address()),
            Account {
                balance: 1_000_000 - fee,
                nonce: 1
            }
        );
        assert_eq!(account_after(&st, &out, &b.address()).balance, 0);
    }

    #[test]
    fn invalid_transactions_skipped_when_producing_and_fatal_when_importing() {
        let (a, b) = (dev_keypair("alice"), dev_keypair("bob"));
        let st = state(&[(a.address(), 1_000_000_000)]);
        let good = tx(&a, 0, b.address(), 1);
        let replay = good.clone();
        let gap = tx(&a, 5, b.address(), 1);
        let poor = tx(&b, 0, a.address(), 1);
        let mut expired = tx(&a, 1, b.address(), 1);
        expired.ref_block = ref_at(5);
        let mut cheap = tx(&a, 1, b.address(), 1);
        cheap.max_fee = 1;
        let mut wrong_ref = tx(&a, 1, b.address(), 1);
        wrong_ref.ref_block.hash_prefix = [9; 4];
        let txs = vec![good, replay, gap, poor, expired, cheap, wrong_ref];
        let out = run(&st, &txs, ExecMode::Produce).unwrap();
        assert_eq!(out.included, vec![0]);
        let codes: Vec<i32> = out.rejected.iter().map(|(_, r)| r.code()).collect();
        assert_eq!(codes, vec![1006, 1016, 1009, 1008, 1010, 1007]);
        let err = run(&st, &txs, ExecMode::Import).unwrap_err();
        assert!(matches!(
            err,
            ExecError::InvalidTx {
                index: 1,
                reason: TxInvalid::NonceTooLow { .. }
            }
        ));
    }

    proptest! {
        // Whatever the transfers, no base unit is created or destroyed.
        #[test]
        fn supply_is_conserved(moves in proptest::collection::vec((0usize..4, 0usize..4, 0u128..600_000_000, any::<bool>()), 0..40)) {
            let ks: Vec<Keypair> = ["alice", "bob", "carol", "dave"].iter().map(|n| dev_keypair(n)).collect();
            let st = state(&ks.iter().map(|k| (k.address(), 1_000_000_000)).collect::<Vec<_>>());
            let mut nonces = [0u64; 4];
            let txs: Vec<Transaction> = moves.iter().map(|(f, t, amt, skip_nonce)| {
                let n = nonces[*f] + u64::from(*skip_nonce);
                if !*skip_nonce { nonces[*f] += 1; }
                tx(&ks[*f], n, ks[*t].address(), *amt)
            }).collect();
            let out = run(&st, &txs, ExecMode::Produce).unwrap();
            let mut total = account_after(&st, &out, &reward_pool()).balance;
            for k in &ks { total += account_after(&st, &out, &k.address()).balance; }
            prop_assert_eq!(total, 4_000_000_000u128);
            prop_assert_eq!(out.included.len() + out.rejected.len(), txs.len());
        }
    }
}
